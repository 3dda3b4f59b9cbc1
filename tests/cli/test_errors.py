"""cli/errors.py: the known errors become 'error: ...' lines naming the file and line, and exit code 1,
for every command; anything else keeps its traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import cli
from recommender.articles.loader import LoadErrors
from recommender.articles.model import ArticleError
from recommender.backup import BackupError
from recommender.cli import context
from recommender.cli.errors import messages
from recommender.evaluation.benchmark import BenchmarkFormatError
from recommender.domain import EncoderMismatch, StoreUnavailable

runner = CliRunner()


def test_known_errors_become_their_lines() -> None:
    load = LoadErrors([ArticleError("unreadable date", "a.txt", 3), ArticleError("no title", "b.txt", 1)])
    assert messages(load) == [f"error: {e}" for e in load.errors] + ["nothing stored: 2 problem(s) in the input"]
    assert messages(load)[0].startswith("error: a.txt:3")  # type: ignore[index]
    assert messages(BackupError(["x.jsonl:2: bad"])) == ["error: x.jsonl:2: bad", "nothing imported"]
    assert messages(BenchmarkFormatError(Path("q.qrels"), 4, "too few fields")) == ["error: q.qrels:4: too few fields"]
    assert messages(StoreUnavailable("cannot connect")) == ["error: cannot connect"]
    assert messages(EncoderMismatch("mixed vectors")) == ["error: mixed vectors"]


def test_unknown_errors_are_not_hidden() -> None:
    assert messages(RuntimeError("a bug")) is None
    assert messages(KeyError("a bug")) is None


@pytest.mark.parametrize("command", [["gaps"], ["links", "x"], ["suggest", "Who pays for tariffs?"], ["reindex"]])
def test_an_unreachable_store_is_a_message_for_every_command(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(settings):  # type: ignore[no-untyped-def]
        raise StoreUnavailable("PostgreSQL at db.example:5432 is unreachable")

    monkeypatch.setenv("RECOMMENDER_DB", str(tmp_path / "x.db"))
    monkeypatch.setattr(context, "open_services", unreachable)
    result = runner.invoke(cli.app, command)
    assert result.exit_code == 1 and not isinstance(result.exception, StoreUnavailable)  # no traceback
    assert result.stderr == "error: PostgreSQL at db.example:5432 is unreachable\n"


def test_a_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOMMENDER_TOP_K", "lots")
    result = runner.invoke(cli.app, ["gaps"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: RECOMMENDER_TOP_K='lots': ")


def test_a_bug_keeps_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(settings):  # type: ignore[no-untyped-def]
        raise KeyError("a bug")

    monkeypatch.setenv("RECOMMENDER_DB", str(tmp_path / "x.db"))
    monkeypatch.setattr(context, "open_services", broken)
    result = runner.invoke(cli.app, ["gaps"])
    assert isinstance(result.exception, KeyError)


def test_ranking_in_postgres_without_postgres_is_a_message(tmp_path, fake_encoder) -> None:  # type: ignore[no-untyped-def]
    from recommender.config import Settings
    from recommender.index.backend import RankingBackendError
    from recommender.services import Services

    settings = Settings(db=tmp_path / "x.db", ranking_backend="postgres")
    with pytest.raises(RankingBackendError) as raised:
        Services.open(settings, encoder=fake_encoder)
    assert messages(raised.value) == [
        "error: RECOMMENDER_RANKING_BACKEND=postgres needs RECOMMENDER_DATABASE_URL (ranking inside PostgreSQL); "
        "on SQLite use memory or auto"
    ]
