"""Measure the two ways of getting PostgreSQL + pgvector for the tests, for docs/operations.md.

    .venv/bin/python scripts/measure_postgres_setup.py [--cold]

A. Debian: PostgreSQL 15 from Debian (in the machine image), pgvector built from Debian's source
   package against postgresql-server-dev-15 (what scripts/start_postgres.sh does). Steps timed
   apart: installing the headers (with --cold they are removed first, to time a fresh machine),
   fetching the source, building it (installed into a scratch folder, so a running server is not
   disturbed), then initdb + start + CREATE EXTENSION on a scratch cluster.
B. pgserver: the PyPI package that bundles PostgreSQL and pgvector, in a scratch virtualenv.

Run as root (apt). Prints a Markdown table; nothing it makes is left behind.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PGBIN = Path("/usr/lib/postgresql/15/bin")
PGSERVER = "pgserver==0.1.4"
# What `apt-get install postgresql-server-dev-15` added to the stock Debian 12 image here (clang for
# the JIT bitcode, and its dependencies): --cold removes them to time the install of a fresh machine.
PULLED_IN = [
    "clang-14", "libclang-common-14-dev", "libclang-rt-14-dev", "libclang1-14", "libobjc-12-dev", "libobjc4",
    "libgc1", "lib32stdc++6", "lib32gcc-s1", "libc6-i386",
]


def run(*cmd: str, cwd: Path | None = None, env: dict | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


def timed(label: str, rows: list[tuple[str, str, float]], option: str, fn) -> object:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    rows.append((option, label, time.perf_counter() - start))
    print(f"{option}: {label}: {rows[-1][2]:.1f} s", file=sys.stderr)
    return value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def debian(rows: list[tuple[str, str, float]], cold: bool, scratch: Path) -> str:
    option = "A. Debian PostgreSQL 15 + pgvector built from Debian's source"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cache: list[str] = []
    if cold:
        # As on a fresh machine: without the headers and the compiler packages they pull in (clang-14
        # for JIT bitcode, ...), and with an empty download cache, so the downloads are timed too.
        run("apt-get", "remove", "-y", "-qq", "postgresql-server-dev-15", env=env)
        auto = set(run("apt-mark", "showauto").split())
        pulled = [p for p in PULLED_IN if p in auto]  # only what apt installed as a dependency
        if pulled:
            run("apt-get", "remove", "-y", "-qq", *pulled, env=env)
        (scratch / "archives" / "partial").mkdir(parents=True)
        cache = ["-o", f"Dir::Cache::Archives={scratch / 'archives'}"]
    timed("apt-get install postgresql-server-dev-15", rows, option,
          lambda: run("apt-get", *cache, "install", "-y", "-qq", "postgresql-server-dev-15", env=env))
    apt = scratch / "apt"
    for sub in ("lists/partial", "parts", "src"):
        (apt / sub).mkdir(parents=True)
    (apt / "sources.list").write_text("deb-src http://deb.debian.org/debian trixie main\n")
    opts = ["-o", f"Dir::Etc::SourceList={apt}/sources.list", "-o", f"Dir::Etc::SourceParts={apt}/parts",
            "-o", f"Dir::State::Lists={apt}/lists"]

    def fetch() -> None:
        run("apt-get", "-qq", *opts, "update")
        run("apt-get", "-qq", *opts, "source", "--download-only", "pgvector", cwd=apt / "src")
        run("tar", "xzf", glob.glob(str(apt / "src" / "pgvector_*.orig.tar.gz"))[0], "-C", str(apt / "src"))

    timed("apt-get source pgvector (deb-src list of its own)", rows, option, fetch)
    source = Path(glob.glob(str(apt / "src" / "pgvector-*/"))[0])
    make = ["make", "-s", "-C", str(source), f"PG_CONFIG={PGBIN / 'pg_config'}", 'OPTFLAGS=']
    timed("make && make install (scratch DESTDIR)", rows, option,
          lambda: (run(*make), run(*make, "install", f"DESTDIR={scratch / 'dest'}")))
    version = source.name.removeprefix("pgvector-")

    data = scratch / "data"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    shutil.chown(scratch, "postgres", "postgres")
    port = str(free_port())
    as_pg = ["runuser", "-u", "postgres", "--"]

    def cluster() -> None:
        run(*as_pg, str(PGBIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--locale=C.UTF-8")
        run(*as_pg, str(PGBIN / "pg_ctl"), "-D", str(data), "-l", str(scratch / "log"), "-w",
            "-o", f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''", "start")
        run(str(PGBIN / "psql"), "-X", "-q", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "postgres",
            "-c", "CREATE EXTENSION vector")

    try:
        timed("initdb + start + CREATE EXTENSION vector", rows, option, cluster)
    finally:
        subprocess.run([*as_pg, str(PGBIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
    return f"PostgreSQL {run(str(PGBIN / 'postgres'), '--version').split()[2]}, pgvector {version}"


def start_script(rows: list[tuple[str, str, float]], scratch: Path) -> None:
    """What `make test` pays each run with A in place: scripts/start_postgres.sh on a scratch folder."""
    option = "A. as used: scripts/start_postgres.sh (pgvector installed)"
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PGTEST_DIR": str(scratch / "pgtest")}
    try:
        timed("first run: initdb + start + create database", rows, option,
              lambda: run("bash", str(root / "scripts" / "start_postgres.sh"), env=env))
        timed("next runs: server already up (no-op)", rows, option,
              lambda: run("bash", str(root / "scripts" / "start_postgres.sh"), env=env))
    finally:
        subprocess.run(["bash", str(root / "scripts" / "stop_postgres.sh")], env=env, capture_output=True)


def pgserver(rows: list[tuple[str, str, float]], scratch: Path) -> str:
    option = f"B. {PGSERVER} (PyPI, bundles PostgreSQL + pgvector)"
    venv = scratch / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    python = str(venv / "bin" / "python")
    timed(f"pip install {PGSERVER}", rows, option, lambda: run(python, "-m", "pip", "install", "-q", PGSERVER))
    probe = (
        "import sys, pgserver\n"
        "srv = pgserver.get_server(sys.argv[1], cleanup_mode='stop')\n"
        "print(srv.psql(\"CREATE EXTENSION IF NOT EXISTS vector; SELECT 'pg ' || current_setting('server_version') "
        "|| ', pgvector ' || extversion FROM pg_extension WHERE extname = 'vector';\"))\n"
    )
    out = timed("get_server() (initdb + start) + CREATE EXTENSION vector", rows, option,
                lambda: run(python, "-c", probe, str(scratch / "pgdata")))
    line = next(line for line in str(out).splitlines() if "pgvector" in line)
    return "PostgreSQL " + line.strip().removeprefix("pg ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="remove postgresql-server-dev-15 first (a fresh machine)")
    args = parser.parse_args()
    rows: list[tuple[str, str, float]] = []
    versions = {}
    with tempfile.TemporaryDirectory(prefix="pgsetup-a-") as a, tempfile.TemporaryDirectory(prefix="pgsetup-b-") as b:
        os.chmod(a, 0o755)
        versions["A"] = debian(rows, args.cold, Path(a))
        start_script(rows, Path(a))
        versions["B"] = pgserver(rows, Path(b))
    print("| option | step | seconds |")
    print("|---|---|---:|")
    for option, label, seconds in rows:
        print(f"| {option} | {label} | {seconds:.1f} |")
    for option in dict.fromkeys(o for o, _, _ in rows if "as used" not in o):
        total = sum(s for o, _, s in rows if o == option)
        print(f"| {option} | **total** | **{total:.1f}** |")
    print()
    for key, version in versions.items():
        print(f"- {key}: {version}")


if __name__ == "__main__":
    main()
