"""The real service for tests that speak HTTP to it: `recommender serve` in its own process over loopback.

`running(log, ...)` is the usual way in (start, wait for /healthz, stop); `launch` starts without
waiting, for tests that start several servers at once or watch one from its first request on.
`cli_process` starts another `recommender` command the same way (its output captured as text).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, TEST_BACKEND

CLI = [sys.executable, "-m", "recommender.cli"]
STARTUP_SECONDS = 120.0  # loading the model takes tens of seconds on a busy machine

# A process started by a test loads the encoder of tests.conftest's `real_encoder` (see TEST_BACKEND).
SAME_ENCODER = {
    "RECOMMENDER_BACKEND": TEST_BACKEND,
    "RECOMMENDER_MODELS_DIR": str(ROOT / "models"),
    "HF_HUB_OFFLINE": "1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(**env: str) -> dict[str, str]:
    """This process's environment, the test encoder and no network, then `env` over them."""
    return {**os.environ, **SAME_ENCODER, **env}


def cli_process(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """`recommender ARGS` in its own process; stdout and stderr are pipes (text)."""
    return subprocess.Popen([*CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@dataclass
class Server:
    """`recommender serve` in its own process over loopback."""

    process: subprocess.Popen[bytes]
    base: str  # http://127.0.0.1:PORT
    log: Path  # its stdout and stderr
    db: Path | None = None  # the SQLite database it serves, if it was given one

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> Server:
        """Return once /healthz answers 200; fail the test (log tail attached) if the process exits or
        `timeout` seconds pass first (the process is then killed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited ({self.process.returncode}): {self.log_tail()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop(kill=True)
        pytest.fail(f"server did not start in {timeout:.0f} s: {self.log_tail()}")

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def launch(log: Path, db: Path | None = None, **env: str) -> Server:
    """Start a server on a free loopback port without waiting for it; `env` over `environment()`."""
    port = free_port()
    full = environment(PYTHONUNBUFFERED="1", **({"RECOMMENDER_DB": str(db)} if db else {}), **env)
    with log.open("w") as out:  # the child keeps its own copy of the file descriptor
        process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)], env=full, stdout=out, stderr=subprocess.STDOUT
        )
    return Server(process, f"http://127.0.0.1:{port}", log, db)


def start_server(log: Path, db: Path | None = None, **env: str) -> Server:
    """A started server whose /healthz answers; the caller stops it."""
    return launch(log, db, **env).wait_ready()


@contextmanager
def running(log: Path, db: Path | None = None, **env: str) -> Iterator[Server]:
    """A started server for the `with` block; stopped afterwards."""
    server = start_server(log, db, **env)
    try:
        yield server
    finally:
        server.stop()
