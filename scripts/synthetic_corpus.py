"""Benchmark corpora: articles generated from checkthat2020's fact checks, and databases of any size.

    .venv/bin/python scripts/synthetic_corpus.py --articles 100000 --out /tmp/perf/db-100k.db

Article i is built from fact check j = i mod N (N = 10,375 when ../shared/benchmarks/checkthat2020 is
present; otherwise the sample articles' sentences stand in): its headline is the title, its verified
claim the summary, three "context" sections each hold four claims of other fact checks (so an article
has about five passages and 280 words), and three dive-deeper questions are headlines of fact checks
close to it. Articles beyond N are variants (another year in the title, other context, other questions).

Real encoders are used for ingest throughput only (`articles()`). Larger databases are written straight
through the store (`build_database`) with *derived* vectors: each passage's vector is the real vector of
the fact-check texts it holds (title, claim, mean of the context claims) from the embedding cache, plus a
little noise per variant, so similarities look like the real model's (questions near their answers, the
same spread of scores) without encoding 500k passages on two cores. Links are then computed by the
service's own linker over the finished index, or sampled above 20k articles (see sampled_links);
`--links-only exact` links a larger database exactly instead (~75 min at 100k here).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from recommender.articles.model import Article, Section, normalize_question  # noqa: E402
from recommender.embedding.base import Encoder, normalize_rows  # noqa: E402
from recommender.embedding.cache import EmbeddingCache, encode_cached  # noqa: E402
from recommender.embedding.passages import article_passages  # noqa: E402
from recommender.domain import StoredArticle  # noqa: E402

BENCHMARK = ROOT.parent / "shared" / "benchmarks" / "checkthat2020"
CONTEXT_SECTIONS = 3
CLAIMS_PER_SECTION = 4
QUESTIONS_PER_ARTICLE = 3
VARIANT_NOISE = 0.25  # norm of the noise added to a variant's vectors: cosine to the original ~0.97
EXACT_LINKS_UP_TO = 20_000  # larger databases get sampled links (see sampled_links)


@dataclass(frozen=True)
class FactCheck:
    title: str
    claim: str


def fact_checks(bench: Path = BENCHMARK) -> tuple[list[FactCheck], str]:
    """checkthat2020's fact checks (headline, claim), or stand-ins from the sample articles."""
    corpus = bench / "corpus.jsonl"
    if corpus.exists():
        rows = [json.loads(line) for line in corpus.read_text().splitlines() if line.strip()]
        found = [FactCheck(r["title"].strip() or r["text"][:80], r["text"].strip()) for r in rows]
        return found, f"checkthat2020 ({len(found):,} fact checks)"
    from recommender.articles.loader import load_paths
    from recommender.embedding.passages import split_sentences

    found = []
    for item in load_paths([ROOT / "data" / "sample" / "articles"]):
        article = item.article
        sentences = [s for sec in article.sections for s in split_sentences(sec.text)]
        questions = article.questions or [article.title]
        for n, sentence in enumerate(sentences):
            found.append(FactCheck(questions[n % len(questions)], sentence))
    return found, f"sample-article sentences ({len(found):,} stand-in fact checks; checkthat2020 absent)"


def _unique_questions(titles: Iterator[str]) -> list[str]:
    """The first of each wording key, in order: an article may not ask the same question twice, and two
    checkthat2020 headlines differ only in case or punctuation."""
    first: dict[str, str] = {}
    for title in titles:
        first.setdefault(normalize_question(title), title)
    return list(first.values())


class Corpus:
    """Deterministic articles of any number, with the recipe of every text (which fact checks it holds)."""

    def __init__(self, checks: Sequence[FactCheck], seed: int = 7) -> None:
        self.checks = list(checks)
        self.seed = seed
        self._askable = [j for j, c in enumerate(self.checks) if c.title.endswith("?")] or list(range(len(checks)))
        self._neighbours: np.ndarray | None = None

    def set_neighbours(self, title_vectors: np.ndarray, k: int = 24) -> None:
        """Questions come from fact checks whose headline is close to the article's (as on a real site)."""
        askable = np.array(self._askable)
        top = np.empty((len(title_vectors), k + 1), dtype=np.int64)
        for start in range(0, len(title_vectors), 1024):  # in blocks: 10k x 5k similarities at once is 200 MB
            sims = title_vectors[start : start + 1024] @ title_vectors[askable].T
            top[start : start + 1024] = np.argpartition(-sims, k, axis=1)[:, : k + 1]
        self._neighbours = askable[top]

    def recipe(self, i: int) -> tuple[int, list[list[int]], list[int]]:
        """(source fact check, claims of each context section, fact checks whose headlines are the questions)."""
        n = len(self.checks)
        source = i % n
        rng = random.Random(self.seed * 1_000_003 + i)
        sections = [[rng.randrange(n) for _ in range(CLAIMS_PER_SECTION)] for _ in range(CONTEXT_SECTIONS)]
        pool = self._neighbours[source].tolist() if self._neighbours is not None else self._askable
        pool = [j for j in pool if j != source]
        questions = rng.sample(pool, min(QUESTIONS_PER_ARTICLE, len(pool)))
        return source, sections, questions

    def article(self, i: int) -> Article:
        source, sections, questions = self.recipe(i)
        check = self.checks[source]
        variant = i // len(self.checks)
        title = check.title if variant == 0 else f"{check.title} ({2000 + variant})"
        return Article(
            id=f"a{i:06d}",
            title=title,
            summary=check.claim,
            sections=[
                Section(heading=f"Context {n + 1}", text=" ".join(self.checks[j].claim for j in claims))
                for n, claims in enumerate(sections)
            ],
            questions=_unique_questions(self.checks[j].title for j in questions),
            topic=f"topic-{source % 40}",
        )

    def articles(self, count: int, start: int = 0) -> Iterator[Article]:
        for i in range(start, start + count):
            yield self.article(i)


def source_vectors(checks: Sequence[FactCheck], encoder: Encoder, cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Real (title, claim) vectors of every fact check, from the embedding cache (embedded once if missing)."""
    cache = EmbeddingCache(cache_dir, encoder.model_id)
    try:
        titles = encode_cached(encoder, [c.title for c in checks], cache, progress=True, label="titles")
        claims = encode_cached(encoder, [c.claim for c in checks], cache, progress=True, label="claims")
    finally:
        cache.close()
    return titles, claims


def _noise(key: str, dim: int, scale: float) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    vector = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return vector * (scale / np.linalg.norm(vector))


class DerivedVectors:
    """Vectors of a corpus's texts made from the real vectors of the fact-check texts they hold."""

    def __init__(self, corpus: Corpus, titles: np.ndarray, claims: np.ndarray) -> None:
        self.corpus = corpus
        self.titles = titles
        self.claims = claims
        self.dim = titles.shape[1]

    def stored(self, i: int, count_tokens, max_tokens: int) -> StoredArticle:  # type: ignore[no-untyped-def]
        """Article i with its passages split as the service splits them, and derived vectors."""
        article = self.corpus.article(i)
        source, sections, questions = self.corpus.recipe(i)
        variant = i // len(self.corpus.checks)
        scale = VARIANT_NOISE if variant else 0.0
        passages = article_passages(article, count_tokens, max_tokens) or [article.title]
        vectors = []
        for p, text in enumerate(passages):
            held = [j for claims in sections for j in claims if self.corpus.checks[j].claim in text]
            if self.corpus.checks[source].claim in text:
                base = self.claims[source]
            elif held:
                base = self.claims[held].mean(axis=0)
            else:
                base = self.titles[source]
            vectors.append(base + (_noise(f"{i}:{p}", self.dim, scale) if scale else 0.0))
        by_title = {self.corpus.checks[j].title: j for j in questions}
        question_vectors = [
            self.titles[by_title[q]] + (_noise(f"{i}:q{n}", self.dim, scale) if scale else 0.0)
            for n, q in enumerate(article.questions)
        ]
        return StoredArticle(
            article=article,
            content_hash=article.content_hash(),
            passages=passages,
            passage_vectors=normalize_rows(np.stack(vectors)),
            question_vectors=normalize_rows(np.stack(question_vectors))
            if question_vectors
            else np.zeros((0, self.dim), np.float32),
        )


class KnownVectors:
    """An Encoder for benchmarks over derived vectors: texts registered with `add` get their vector,
    others a fixed pseudo-random one. Its model id is the real encoder's, so a server with the real
    encoder opens the database without re-encoding it."""

    def __init__(self, model_id: str, dim: int, count_tokens, max_tokens: int) -> None:  # type: ignore[no-untyped-def]
        self.model_id = model_id
        self.dim = dim
        self.max_tokens = max_tokens
        self._count = count_tokens
        self._known: dict[str, np.ndarray] = {}

    def add(self, item: StoredArticle) -> None:
        self._known.update(zip(item.passages, item.passage_vectors))
        self._known.update(zip(item.article.questions, item.question_vectors))

    def count_tokens(self, text: str) -> int:
        return self._count(text)

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = [self._known.get(t) for t in texts]
        rows = [v if v is not None else _noise(t, self.dim, 1.0) for v, t in zip(out, texts)]
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, self.dim), np.float32)


def build_database(path: Path, count: int, encoder: Encoder, cache_dir: Path, bench: Path = BENCHMARK) -> dict:
    """A database of `count` articles with derived vectors and links computed by the service's linker."""
    from recommender.config import Settings
    from recommender.services import Services
    from recommender.store.sqlite import SQLiteStore

    checks, label = fact_checks(bench)
    corpus = Corpus(checks)
    titles, claims = source_vectors(checks, encoder, cache_dir)
    corpus.set_neighbours(titles)
    vectors = DerivedVectors(corpus, titles, claims)
    path.unlink(missing_ok=True)
    store = SQLiteStore(path, encoder.model_id)
    started = time.perf_counter()
    batch: list[StoredArticle] = []
    for i in range(count):
        batch.append(vectors.stored(i, encoder.count_tokens, encoder.max_tokens))
        if len(batch) == 2000 or i == count - 1:
            store.upsert(batch)
            batch = []
            print(f"\rstored {i + 1:,}/{count:,} articles", end="", file=sys.stderr)
    print(file=sys.stderr)
    stored_seconds = time.perf_counter() - started
    fake = KnownVectors(encoder.model_id, encoder.dim, encoder.count_tokens, encoder.max_tokens)
    started = time.perf_counter()
    if count > EXACT_LINKS_UP_TO:
        reference = path.with_name("db-10k.db")
        if not reference.exists():
            build_database(reference, 10_000, encoder, cache_dir, bench)
        sampled_links(store, fake, corpus, count, reference)
        store.close()
        write_links_kind(path, "sampled")
        link_seconds = time.perf_counter() - started
        return {"source": label, "store_seconds": stored_seconds, "link_seconds": link_seconds,
                "links": f"sampled (score lists of {reference.name}); clusters not computed"}
    store.close()
    services = Services.start(Settings(db=path), encoder=fake)  # links every question (all are marked)
    link_seconds = time.perf_counter() - started
    write_links_kind(path, "exact")
    counts = services.store.counts()
    services.close()
    return {"source": label, "store_seconds": stored_seconds, "link_seconds": link_seconds, **counts}


def sampled_links(store, encoder: Encoder, corpus: Corpus, count: int, reference: Path, candidates: int = 10) -> None:  # type: ignore[no-untyped-def]
    """Links for a large benchmark database in minutes instead of hours, with realistic scores.

    Exact linking ranks every question against every article: at 100k articles (300k questions,
    500k passages) that is hours on two shared cores. Here question n of article i links to the
    articles made from the fact check its wording comes from (that fact check's variants), and the
    scores are the score list of a random question of the exactly linked `reference` database (10k
    articles). What an upsert benchmark needs from links is realistic lowest candidate scores (which
    questions a new article may enter) and questions pointing at articles; both hold. Duplicate
    clusters are not computed (learning's full clustering is quadratic in the questions): the stored
    fingerprint says they are current, so a server does not start a full clustering on open.
    """
    import sqlite3

    from recommender.domain import LinkRow

    conn = sqlite3.connect(reference)
    profiles: dict[str, list[tuple[float, float, float]]] = {}
    for question_id, score, dense, lexical in conn.execute(
        "SELECT question_id, score, dense, lexical FROM links ORDER BY question_id, rank"
    ):
        profiles.setdefault(question_id, []).append((score, dense, lexical))
    conn.close()
    pool = [p for p in profiles.values() if len(p) == candidates]
    rng = random.Random(13)
    n = len(corpus.checks)
    links: dict[str, list[LinkRow]] = {}
    for i in range(count):
        article = corpus.article(i)
        _, _, asked = corpus.recipe(i)
        by_title = {corpus.checks[j].title: j for j in asked}
        for question in article.question_records():
            source = by_title[question.text]
            targets = [f"a{k:06d}" for k in range(source, count, n) if k != i][:candidates]
            while len(targets) < candidates:
                other = f"a{rng.randrange(count):06d}"
                if other != article.id and other not in targets:
                    targets.append(other)
            profile = rng.choice(pool)
            links[question.id] = [
                LinkRow(question.id, rank, target, score, dense, lexical, 0)
                for rank, (target, (score, dense, lexical)) in enumerate(zip(targets, profile))
            ]
        if len(links) >= 20_000 or i == count - 1:
            store.replace_links(links)
            links = {}
            print(f"\rlinked the questions of {i + 1:,}/{count:,} articles", end="", file=sys.stderr)
    print(file=sys.stderr)
    # The sampled links stand for the relinking the stored articles still owe: a server opening the
    # database would otherwise score every article against every question first.
    store.clear_pending_articles(store.pending_articles())
    mark_clusters_current(store, encoder)


def write_links_kind(db: Path, kind: str) -> None:
    """Record beside the database how its links were made ("exact" or "sampled")."""
    Path(f"{db}.links").write_text(kind + "\n")


def links_kind(db: Path) -> str:
    """How the database's links were made: recorded by the build, else by size (older builds)."""
    recorded = Path(f"{db}.links")
    if recorded.exists():
        return recorded.read_text().strip()
    return "exact" if _article_count(db) <= EXACT_LINKS_UP_TO else "sampled"


def _article_count(db: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
    finally:
        conn.close()


def exact_links(store, encoder: Encoder, candidates: int = 10, batch: int = 1024) -> None:  # type: ignore[no-untyped-def]
    """Every question linked by the service's linker over the whole index, in large batches (at 100k
    articles ~50 min on two cores, once): the links a server would have computed itself. Duplicate
    clusters are marked current without computing them, as in sampled_links."""
    from recommender.config import Settings
    from recommender.index.ranker import RankerConfig
    from recommender.index.snapshot import Snapshot
    from recommender.linking.linker import compute_links

    snapshot = Snapshot.build(store.load_index(), encoder, RankerConfig.of(Settings()))
    ids = [q.id for q in snapshot.questions]
    started = time.perf_counter()
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        store.replace_links(compute_links(snapshot, chunk, candidates, batch=batch, cells=batch * snapshot.ranker.size))
        done = start + len(chunk)
        eta = (time.perf_counter() - started) / done * (len(ids) - done) / 60
        print(f"\rlinked {done:,}/{len(ids):,} questions (~{eta:.0f} min left)", end="", file=sys.stderr)
    print(file=sys.stderr)
    store.clear_pending_articles(store.pending_articles())
    mark_clusters_current(store, encoder)


def upsert_material(encoder: Encoder, cache_dir: str | Path) -> tuple[DerivedVectors, DerivedVectors, str]:
    """What the upsert benchmarks write: new articles (`[0].stored(i)`, i beyond the corpus) and rewrites
    of existing ones with other context and questions (`[1].stored(i)`), with derived vectors; and the
    label of the fact checks they come from."""
    checks, label = fact_checks()
    titles, claims = source_vectors(checks, encoder, cache_dir)
    corpus, rewritten = Corpus(checks), Corpus(checks, seed=11)
    corpus.set_neighbours(titles)
    rewritten.set_neighbours(titles)
    return DerivedVectors(corpus, titles, claims), DerivedVectors(rewritten, titles, claims), label


def mark_clusters_current(store, encoder: Encoder) -> None:  # type: ignore[no-untyped-def]
    """Store the duplicate-cluster fingerprint of the database's questions as the linking service
    computes it, so a server opening it does not start a full clustering (see sampled_links), and the
    ranking settings as the links' own, so it does not relink every question either."""
    import types

    from recommender.config import Settings
    from recommender.index.ranker import RankerConfig
    from recommender.index.snapshot import Snapshot
    from recommender.linking.linker import link_settings
    from recommender.services.linking import LinkingService

    settings = Settings()
    config = RankerConfig.of(settings)
    snapshot = Snapshot.build(store.load_index(), encoder, config)
    stub = types.SimpleNamespace(holder=types.SimpleNamespace(encoder=encoder), settings=settings)
    store.replace_clusters({}, LinkingService._fingerprint_of(stub, snapshot.table.identity))  # type: ignore[arg-type]
    store.record_link_settings(link_settings(config, settings.candidates))


def main() -> None:
    import argparse

    from recommender.config import Settings
    from recommender.embedding.factory import create_encoder

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--benchmark", type=Path, default=BENCHMARK)
    parser.add_argument("--links-only", choices=["sampled", "exact"], help="Only (re)write the links of --out, so.")
    args = parser.parse_args()
    settings = Settings()
    encoder = create_encoder(settings.model, settings.models_dir, backend=settings.backend)
    if args.links_only:
        from recommender.store.sqlite import SQLiteStore

        checks, _ = fact_checks(args.benchmark)
        corpus = Corpus(checks)
        corpus.set_neighbours(source_vectors(checks, encoder, settings.cache_dir)[0])
        store = SQLiteStore(args.out, encoder.model_id)
        known = KnownVectors(encoder.model_id, encoder.dim, encoder.count_tokens, encoder.max_tokens)
        if args.links_only == "exact":
            exact_links(store, known)
        else:
            sampled_links(store, known, corpus, args.articles, args.out.with_name("db-10k.db"))
        store.close()
        write_links_kind(args.out, args.links_only)
        return
    print(json.dumps(build_database(args.out, args.articles, encoder, settings.cache_dir, args.benchmark), indent=2))


if __name__ == "__main__":
    main()
