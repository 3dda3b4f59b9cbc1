"""Start `recommender serve` on a copy of a benchmark database (127.0.0.1 only) and stop it again."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def remove_db(db: Path) -> None:
    """The database file, its WAL and its index files (the default folder beside it, see index/files.py)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(f"{db}.index", ignore_errors=True)


def rss_kib(pid: int) -> tuple[int, int]:
    """(current, peak) resident set size of a process, KiB, from /proc."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found.get("VmRSS", 0), found.get("VmHWM", 0)


def process_age(pid: int) -> float:
    """Seconds since the process started (from /proc: a start-up time without copying the database)."""
    started = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - started / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@contextmanager
def server(db: Path, workers: int = 1, env: dict[str, str] | None = None, startup: float = 900.0) -> Iterator[tuple[int, subprocess.Popen]]:
    """(port, process) of a server on a copy of `db`; the copy and the process are gone afterwards."""
    work = db.with_name(f"{db.stem}-serve.db")
    remove_db(work)
    shutil.copy(db, work)
    port = free_port()
    environment = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "RECOMMENDER_DB": str(work),
        "RECOMMENDER_RATE_LIMIT_PER_MINUTE": "0",  # one loopback client stands for many readers
        **(env or {}),
    }
    command = [str(ROOT / ".venv" / "bin" / "recommender"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    log = open(work.with_suffix(".log"), "w")  # noqa: SIM115
    process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + startup
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited ({process.returncode}); see {work.with_suffix('.log')}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not up after {startup:.0f} s")
            time.sleep(0.1)  # the start time is read when this answers: poll finely
        yield port, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the session this function started
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
        remove_db(work)
        print(f"server on {db.name} stopped", file=sys.stderr)
