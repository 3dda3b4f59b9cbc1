"""cli/context.py: what a command opens is closed whatever happens; a missing database is named."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from recommender import cli
from recommender.cli import context
from recommender.config import Settings

runner = CliRunner()


class Closable:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("raised", [None, typer.Exit(1), RuntimeError("boom")])
def test_opened_closes_the_services_once_on_every_way_out(raised: BaseException | None, monkeypatch: pytest.MonkeyPatch) -> None:
    services = Closable()
    monkeypatch.setattr(context, "open_services", lambda settings: services)
    try:
        with context.opened(Settings()) as yielded:
            assert yielded is services and services.closed == 0
            if raised is not None:
                raise raised
    except (typer.Exit, RuntimeError) as exc:
        assert exc is raised
    assert services.closed == 1


def test_opened_store_closes_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    store = Closable()
    monkeypatch.setattr(context, "open_store", lambda settings: store)
    with pytest.raises(KeyError), context.opened_store(Settings()):
        raise KeyError("x")
    assert store.closed == 1


def test_a_command_closes_the_services_when_it_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class NoArticles:
        def dive_deeper(self, article_id: str) -> None:
            return None

    class Missing(Closable):
        reading = NoArticles()

    services = Missing()
    monkeypatch.setenv("RECOMMENDER_DB", str(tmp_path / "x.db"))
    monkeypatch.setattr(context, "open_services", lambda settings: services)
    result = runner.invoke(cli.app, ["links", "nope"])
    assert result.exit_code == 1 and "error: article 'nope' not found" in result.stderr
    assert services.closed == 1


@pytest.mark.parametrize("command", [["status"], ["verify"]])
def test_read_only_commands_name_a_missing_database_and_create_none(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "missing.db"
    monkeypatch.setenv("RECOMMENDER_DB", str(db))
    result = runner.invoke(cli.app, command)
    assert result.exit_code == 1
    assert f"error: no database at {db} (set RECOMMENDER_DB or RECOMMENDER_DATABASE_URL" in result.stderr
    assert not db.exists()
