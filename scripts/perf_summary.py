"""Compare the generated tables of docs/performance.md with the issue's targets and write the summary.

Reads only what the benchmark scripts wrote between their markers (nothing is measured here), so
the summary can never disagree with the tables. Run it after any bench_*.py script:

    .venv/bin/python scripts/perf_summary.py
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docs_table import replace_block  # noqa: E402

PAGE = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
Row = dict[str, str]


def block(text: str, name: str) -> str:
    found = re.search(rf"<!-- {name}:start -->(.*?)<!-- {name}:end -->", text, flags=re.S)
    if not found:
        raise SystemExit(f"{PAGE}: no '{name}' table yet: run the script named above it first")
    return found.group(1)


def tables(markdown: str) -> list[list[Row]]:
    """Every pipe table in `markdown`, as rows keyed by header."""
    result: list[list[Row]] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|[-:| ]+\|$", lines[i + 1]):
            header = [c.strip() for c in lines[i].strip("|").split("|")]
            rows, i = [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip("|").split("|")]
                rows.append(dict(zip(header, cells)))
                i += 1
            result.append(rows)
        else:
            i += 1
    return result


def number(cell: str) -> float | None:
    found = re.search(r"-?[\d,]+(?:\.\d+)?", cell)
    return float(found.group(0).replace(",", "")) if found else None


@dataclass
class Target:
    name: str
    goal: str
    measure: Callable[[str], tuple[str, bool]]
    where: str


def widget(text: str) -> tuple[str, bool]:
    rows = tables(block(text, "http"))[0]
    ok = [r for r in rows if r["errors or non-200"] == "0" and (number(r["p99 ms"]) or 1e9) <= 10]
    best = max(ok, key=lambda r: number(r["requested /s"]) or 0, default=None)
    if best is None:
        return "no tested rate kept p99 <= 10 ms", False
    rate = number(best["requested /s"]) or 0
    return f"p99 {best['p99 ms']} ms at {best['requested /s']}/s ({best['server']})", rate >= 500


def search(text: str) -> tuple[str, bool]:
    rows = {r["backend"]: r for r in tables(block(text, "query-latency"))[0]}
    fastest = min((r for b, r in rows.items() if not b.startswith("(")), key=lambda r: number(r["p50 ms"]) or 1e9)
    p50 = number(fastest["p50 ms"]) or 1e9
    http = [r for r in tables(block(text, "http"))[1] if r["errors or non-200"] == "0"]
    over_http = min((number(r["p50 ms"]) or 1e9 for r in http), default=None)
    extra = f"; over HTTP, default backend, p50 {over_http:.1f} ms" if over_http is not None else ""
    return (
        f"in process p50 {p50:.1f} ms ({fastest['backend']}; CPU time {fastest['CPU time p50 ms']} ms){extra}",
        p50 <= 20,
    )


def ingest(text: str) -> tuple[str, bool]:
    rows = {r["backend"]: r for r in tables(block(text, "ingest"))[0]}
    best = max(rows.values(), key=lambda r: number(r["vs torch"]) or 0)
    ratio = number(best["vs torch"]) or 0
    return f"{best['backend']} {best['vs torch']} torch's articles/s", ratio >= 3


def upsert_at(size: str) -> Callable[[str], tuple[str, bool]]:
    def measure(text: str) -> tuple[str, bool]:
        rows = [r for r in tables(block(text, "upsert"))[0] if r["articles"] == size and r["index update"] == "incremental"]
        if not rows:
            return "not measured", False
        p50 = number(rows[0]["p50 ms"]) or 1e9
        return f"p50 {p50:.0f} ms wall, CPU time p50 {rows[0]['CPU time p50 ms']} ms", p50 <= 300

    return measure


def memory(text: str) -> tuple[str, bool]:
    rows = [r for r in tables(block(text, "memory"))[0] if r["articles"] == "100,000"]
    if not rows:
        return "not measured", False
    peak = number(rows[0]["peak RSS MB"]) or 1e9
    first = number(rows[0].get("its peak RSS MB", "")) or 0
    return f"peak RSS {peak:.0f} MB (first start, writing the index files: {first:.0f} MB)", max(peak, first) <= 1536


def open_time(text: str) -> tuple[str, bool]:
    rows = [r for r in tables(block(text, "memory"))[0] if r["articles"] == "100,000"]
    if not rows or "start s (files mapped)" not in rows[0]:
        return "not measured", False
    seconds = number(rows[0]["start s (files mapped)"]) or 1e9
    return f"{seconds:.1f} s from process start (index files mapped; {rows[0]['first start s']} s building them)", seconds <= 5


def postgres_at_1m(column: str, limit: float) -> Callable[[str], tuple[str, bool]]:
    """A column of the PostgreSQL scale table, whose target is at 1M articles (the largest size measured
    is reported when 1M is not)."""

    def measure(text: str) -> tuple[str, bool]:
        rows = [r for r in tables(block(text, "pg-scale"))[0] if r["ranking backend (HNSW), encoder"].startswith("postgres")]
        if not rows:
            return "not measured", False
        largest = max(rows, key=lambda r: number(r["articles"]) or 0)
        value = number(largest[column]) or 1e9
        if largest["articles"] != "1,000,000":
            return f"not measured at 1M; at {largest['articles']} articles p50 {value:.0f} ms", False
        return f"p50 {value:.0f} ms", value <= limit

    return measure


TARGETS = [
    Target("widget endpoint over HTTP", "p99 <= 10 ms at >= 500 requests/s", widget, "Widget endpoint"),
    Target("`search`, fastest backend", "p50 <= 20 ms", search, "Search"),
    Target("ingest", ">= 3x the torch encoder's throughput", ingest, "Ingest"),
    Target("one-article upsert + relink, 10k articles", "<= 300 ms", upsert_at("10,000"), "One-article upsert"),
    Target("one-article upsert + relink, 100k articles (SQLite)", "<= 300 ms", upsert_at("100,000"), "One-article upsert"),
    Target("server memory, 100k articles (SQLite)", "RSS <= 1.5 GB", memory, "Memory"),
    Target("server start, 100k articles (SQLite)", "<= 5 s", open_time, "Memory"),
    Target("one-article upsert + relink, 1M articles (PostgreSQL)", "<= 500 ms", postgres_at_1m("upsert p50 ms", 500),
           "Ranking inside PostgreSQL"),
    Target("`search` over HTTP, 1M articles (PostgreSQL)", "p50 <= 50 ms", postgres_at_1m("search p50 ms", 50),
           "Ranking inside PostgreSQL"),
]


def main() -> None:
    text = PAGE.read_text()
    lines = ["| target | goal | measured | met | table |", "|---|---|---|---|---|"]
    for target in TARGETS:
        measured, met = target.measure(text)
        lines.append(f"| {target.name} | {target.goal} | {measured} | {'yes' if met else '**no**'} | {target.where} |")
    table = "\n".join(lines)
    print(table)
    replace_block(PAGE, "summary", table, ".venv/bin/python scripts/perf_summary.py")


if __name__ == "__main__":
    main()
