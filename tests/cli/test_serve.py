"""cli/serve.py: uvicorn gets the proxy settings explicitly."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import cli

runner = CliRunner()


def test_serve_passes_the_proxy_settings_to_uvicorn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: serve always says whether to trust it."""
    import uvicorn

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    monkeypatch.setenv("RECOMMENDER_DB", str(tmp_path / "serve.db"))
    assert runner.invoke(cli.app, ["serve"]).exit_code == 0
    assert calls[-1]["proxy_headers"] is False
    flags = ["serve", "--proxy-headers", "--forwarded-allow-ips", "10.0.0.0/8"]
    assert runner.invoke(cli.app, flags).exit_code == 0
    assert calls[-1]["proxy_headers"] is True and calls[-1]["forwarded_allow_ips"] == "10.0.0.0/8"
    monkeypatch.setenv("RECOMMENDER_PROXY_HEADERS", "true")
    monkeypatch.setenv("RECOMMENDER_FORWARDED_ALLOW_IPS", "172.18.0.2")
    assert runner.invoke(cli.app, ["serve"]).exit_code == 0
    assert calls[-1]["proxy_headers"] is True and calls[-1]["forwarded_allow_ips"] == "172.18.0.2"
    both = runner.invoke(cli.app, ["serve", "--workers", "2", "--metrics-port", "9100"])
    assert both.exit_code == 1 and "--metrics-port needs a single worker" in both.stderr
