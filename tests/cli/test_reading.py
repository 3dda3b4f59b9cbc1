"""cli/reading.py: suggest, links and gaps print answers (the real model on the sample)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import cli

runner = CliRunner()


@pytest.mark.slow
def test_suggest_links_and_gaps(cli_env: Path) -> None:
    suggested = runner.invoke(cli.app, ["suggest", "Who pays for tariffs?", "-k", "2"])
    assert suggested.exit_code == 0, suggested.output
    assert suggested.output.splitlines()[0].split()[2] == "economy-tariffs-who-pays"
    links = runner.invoke(cli.app, ["links", "economy-inflation-2022-causes"])
    assert links.exit_code == 0 and "-> " in links.output and "related questions:" in links.output
    assert runner.invoke(cli.app, ["links", "nope"]).exit_code == 1
    gaps = runner.invoke(cli.app, ["gaps", "--limit", "3"])
    assert gaps.exit_code == 0 and "gaps (best score below" in gaps.output
    assert runner.invoke(cli.app, ["suggest", "  "]).exit_code == 1
    # Nothing on the site answers this: said plainly, not a list that looks like answers.
    unanswered = runner.invoke(cli.app, ["suggest", "How many moons does Neptune have?", "-k", "2"])
    assert unanswered.exit_code == 0 and unanswered.output.startswith("no fact check answers this; best match ")
    assert json.loads(runner.invoke(cli.app, ["suggest", "Who pays for tariffs?", "--json"]).output)["answered"] is True
