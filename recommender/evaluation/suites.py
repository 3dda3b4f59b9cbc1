"""The benchmarks the project is measured on, found by path at run time (never copied into the repo).

Each is a folder in the benchmark format (recommender.evaluation.benchmark): corpus.jsonl plus, per split,
<split>.queries.jsonl and <split>.qrels, so `recommender evaluate --corpus … --queries … --qrels …` runs
any of them. The shared ones live in ../shared/benchmarks/ beside the checkout; a split whose files are
absent is simply not listed (tests and reports skip it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
SHARED = CHECKOUT.parent / "shared" / "benchmarks"
SAMPLE = CHECKOUT / "data" / "sample" / "eval"


@dataclass(frozen=True)
class Split:
    """One query set of a benchmark and its answer key."""

    benchmark: str
    split: str
    corpus: Path
    queries: Path
    qrels: Path
    about: str

    @property
    def name(self) -> str:
        return f"{self.benchmark} {self.split}"

    @property
    def present(self) -> bool:
        return self.corpus.is_file() and self.queries.is_file() and self.qrels.is_file()


def shared_split(root: Path, benchmark: str, split: str, about: str) -> Split:
    folder = Path(root) / benchmark
    return Split(benchmark, split, folder / "corpus.jsonl", folder / f"{split}.queries.jsonl", folder / f"{split}.qrels", about)


def known_splits(shared: Path = SHARED, sample: Path = SAMPLE) -> list[Split]:
    """Every split the quality report covers, in report order (present or not)."""
    return [
        shared_split(shared, "site-titles", "dev", "111 readers' questions -> the site's own fact-check pages (333)"),
        shared_split(shared, "checkthat2020", "dev", "197 tweets -> 10,375 Snopes fact checks"),
        shared_split(shared, "checkthat2020", "train", "800 tweets -> the same fact checks (fusion weights were chosen here)"),
        Split(
            "sample", "key", sample / "corpus.jsonl", sample / "queries.jsonl", sample / "answers.qrels",
            "dive-deeper questions -> the 72 sample articles",
        ),
    ]


def present_splits(splits: Sequence[Split] | None = None) -> list[Split]:
    return [s for s in (splits if splits is not None else known_splits()) if s.present]
