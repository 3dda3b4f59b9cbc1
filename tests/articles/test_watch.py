"""`recommender watch`: new and changed files of a CMS export folder are ingested, broken ones reported."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import cli
from recommender.articles.watch import FolderWatcher
from recommender.config import Settings
from recommender.services import Services
from tests.conftest import SAMPLE
from tests.fakes import HashingEncoder

ARTICLES = sorted((SAMPLE / "articles").glob("*.txt"))[:4]
INTERVAL = 0.05


@pytest.fixture()
def services(settings: Settings) -> Iterator[Services]:
    services = Services.start(settings, encoder=HashingEncoder())
    yield services
    services.close()


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "export"
    path.mkdir()
    for source in ARTICLES[:3]:
        shutil.copy(source, path / source.name)
    return path


def watcher_of(services: Services, folder: Path, delete: bool = False) -> FolderWatcher:
    return FolderWatcher(folder, services.catalog.ingest, services.catalog.delete, delete_missing=delete)


def test_one_pass_ingests_then_only_what_changed(services: Services, folder: Path) -> None:
    watcher = watcher_of(services, folder)
    report = watcher.once(INTERVAL)
    assert sorted(report.added) == sorted(p.stem for p in ARTICLES[:3]) and not report.errors
    assert services.store.counts()["articles"] == 3

    changed = folder / ARTICLES[0].name
    changed.write_text(changed.read_text() + "\nOne more sentence added by the CMS.\n")
    shutil.copy(ARTICLES[3], folder / ARTICLES[3].name)
    report = watcher.once(INTERVAL)
    assert report.read == sorted([str(changed), str(folder / ARTICLES[3].name)])  # the other two are not read again
    assert report.updated == [ARTICLES[0].stem] and report.added == [ARTICLES[3].stem] and not report.unchanged

    (folder / ARTICLES[1].name).touch()  # new mtime, same content: read, stored nothing
    report = watcher.once(INTERVAL)
    assert report.unchanged == [ARTICLES[1].stem] and not report.updated and not report.added


def test_a_broken_file_is_reported_by_line_and_the_rest_is_ingested(services: Services, folder: Path) -> None:
    broken = folder / "feed.jsonl"
    broken.write_text('{"id": "ok-one", "title": "T", "summary": "S", "sections": [], "questions": []}\n{"id": "bad", \n')
    report = watcher_of(services, folder).once(INTERVAL)
    assert len(report.errors) == 1 and report.errors[0].startswith(f"{broken}:2:"), report.errors
    assert services.store.counts()["articles"] == 3  # the three good files; nothing of the broken one
    assert services.store.get_article_row("bad") is None


def test_unsettled_and_hidden_files_wait_and_deletions_need_delete(services: Services, folder: Path) -> None:
    watcher = watcher_of(services, folder)
    watcher.once(INTERVAL)
    (folder / ".partial.txt").write_text("half an article")
    fresh = folder / ARTICLES[3].name
    shutil.copy(ARTICLES[3], fresh)
    first = watcher.poll()  # seen once: still being written as far as we know
    assert first.waiting == [str(fresh)] and not first.read
    (folder / ARTICLES[0].name).unlink()
    second = watcher.poll()
    assert second.added == [ARTICLES[3].stem]
    assert second.gone == [str(folder / ARTICLES[0].name)] and not second.deleted
    assert services.store.get_article_row(ARTICLES[0].stem) is not None  # kept without --delete

    deleting = watcher_of(services, folder, delete=True)
    deleting.once(INTERVAL)
    (folder / ARTICLES[1].name).unlink()
    assert deleting.poll().deleted == [ARTICLES[1].stem]
    assert services.store.get_article_row(ARTICLES[1].stem) is None


def test_the_looping_watcher_picks_up_a_new_file_until_stopped(services: Services, folder: Path) -> None:
    watcher = watcher_of(services, folder)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(INTERVAL, stop), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while services.store.counts()["articles"] < 3 and time.monotonic() < deadline:
            time.sleep(INTERVAL)
        shutil.copy(ARTICLES[3], folder / ARTICLES[3].name)
        while services.store.get_article_row(ARTICLES[3].stem) is None and time.monotonic() < deadline:
            time.sleep(INTERVAL)
        assert services.store.get_article_row(ARTICLES[3].stem) is not None
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_watch_once_on_the_command_line(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOMMENDER_DB", str(tmp_path / "cli.db"))
    monkeypatch.setattr("recommender.services.models.create_encoder", lambda *a, **k: HashingEncoder())
    (folder / "bad.txt").write_text("no title line\n")
    result = CliRunner().invoke(cli.app, ["watch", str(folder), "--once", "--interval", str(INTERVAL)])
    assert result.exit_code == 1, result.output  # an error: cron hears of it
    assert "bad.txt" in result.output and "3 added" in result.output
    again = CliRunner().invoke(cli.app, ["watch", str(folder), "--once", "--interval", str(INTERVAL)])
    assert "3 unchanged" in again.output
