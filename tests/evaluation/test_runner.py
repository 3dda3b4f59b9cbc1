import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from recommender.config import Settings
from recommender.evaluation import (
    BenchmarkFormatError,
    evaluate,
    format_table,
    load_corpus,
    load_qrels,
    load_queries,
    run_benchmark,
    to_json,
)
from recommender.index.builder import benchmark_document, build_ranker
from recommender.index.ranker import RankerConfig

METRICS = {"map@5", "mrr", "recall@1", "recall@5", "recall@10", "ndcg@10", "queries"}

CORPUS = [
    {"id": "d1", "title": "Moon landing hoax", "text": "Claims that the Apollo moon landing was staged in a studio are false."},
    {"id": "d2", "title": "Vaccines and autism", "text": "Vaccines do not cause autism according to many studies."},
    {"id": "d3", "title": "Drinking bleach cure", "text": "Drinking bleach does not cure any virus and is dangerous."},
    {"id": "d4", "title": "", "text": "Sharks were seen swimming in flooded streets after the hurricane."},
    {"id": "d5", "title": "Eiffel tower sold", "text": "The Eiffel tower was not sold for scrap metal."},
    {"id": "d6", "title": "Moon cheese", "text": "The moon is not made of cheese."},
]
QUERIES = [
    {"id": "q1", "text": "was the apollo moon landing staged in a studio"},
    {"id": "q2", "text": "do vaccines cause autism"},
    {"id": "q3", "text": "apollo moon landing staged in a studio", "exclude": ["d1"]},
    {"id": "q4", "text": "sharks swimming in flooded streets"},
    {"id": "q5", "text": "bleach cure"},  # judged, nothing relevant: skipped
    {"id": "q6", "text": "eiffel tower"},  # not judged: skipped
]
QRELS = "q1 0 d1 1\nq2\t0\td2\t1\nq3 0 d1 1\nq4 0 d4 1\nq5 0 d3 0\nq9 0 d5 1\n"


class FakeEncoder:
    """Deterministic bag-of-words hashing vectors; counts what it is asked to encode."""

    model_id = "fake-bow@1"
    dim = 64
    max_tokens = 32

    def __init__(self) -> None:
        self.calls = 0
        self.texts: list[str] = []

    def encode(self, texts, batch_size=64, progress=False):
        self.calls += 1
        self.texts.extend(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms

    def count_tokens(self, text):
        return len(text.split())


def _jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def bench(tmp_path):
    return (
        _jsonl(tmp_path / "corpus.jsonl", CORPUS),
        _jsonl(tmp_path / "queries.jsonl", QUERIES),
        _write(tmp_path / "test.qrels", QRELS),
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _settings(tmp_path, **overrides) -> Settings:
    return Settings(cache_dir=tmp_path / "cache", **overrides)


def _no_encoder():
    raise AssertionError("the lexical method must not create an encoder")


def test_loaders(bench):
    corpus_path, queries_path, qrels_path = bench
    corpus = load_corpus(corpus_path)
    assert [d.id for d in corpus] == ["d1", "d2", "d3", "d4", "d5", "d6"]
    assert corpus[3].title == ""
    queries = load_queries(queries_path)
    assert queries[2].exclude == ("d1",)
    assert queries[0].exclude == ()
    qrels = load_qrels(qrels_path)
    assert qrels["q2"] == {"d2": 1}
    assert qrels["q5"] == {"d3": 0}


def test_evaluate_lexical_honours_exclude_and_counts_skipped(bench):
    corpus_path, queries_path, qrels_path = bench
    docs = [benchmark_document(d.id, d.title, d.text, None) for d in load_corpus(corpus_path)]
    ranker = build_ranker(docs, None, RankerConfig("lexical"))
    result = evaluate(ranker, load_queries(queries_path), load_qrels(qrels_path), batch_size=2)
    assert result.skipped == 2
    assert set(result.rankings) == {"q1", "q2", "q3", "q4"}
    assert result.rankings["q1"][0] == "d1"
    assert "d1" not in result.rankings["q3"]
    assert result.rankings["q3"]  # the other documents are still ranked
    assert result.metrics["queries"] == 4
    # q1, q2, q4 perfect; q3's only relevant document is excluded
    assert result.metrics["map@5"] == pytest.approx(0.75)
    assert result.metrics["recall@10"] == pytest.approx(0.75)


def test_evaluate_rejects_k_below_ten(bench):
    corpus_path, queries_path, qrels_path = bench
    docs = [benchmark_document(d.id, d.title, d.text, None) for d in load_corpus(corpus_path)]
    ranker = build_ranker(docs, None, RankerConfig("lexical"))
    with pytest.raises(ValueError):
        evaluate(ranker, load_queries(queries_path), load_qrels(qrels_path), k=5)


def test_run_benchmark_lexical_needs_no_encoder(bench, tmp_path):
    results = run_benchmark(*bench, ["lexical"], _settings(tmp_path), _no_encoder)
    assert list(results) == ["lexical"]
    assert results["lexical"].metrics["map@5"] == pytest.approx(0.75)
    assert results["lexical"].skipped == 2


@pytest.mark.parametrize("method", ["dense", "hybrid"])
def test_run_benchmark_with_fake_encoder(bench, tmp_path, method):
    encoder = FakeEncoder()
    result = run_benchmark(*bench, [method], _settings(tmp_path), lambda: encoder)[method]
    assert result.skipped == 2
    assert result.metrics["queries"] == 4
    assert "d1" not in result.rankings["q3"]
    assert result.rankings["q1"][0] == "d1"
    assert result.metrics["map@5"] == pytest.approx(0.75)


def test_default_method_follows_settings(bench, tmp_path):
    settings = _settings(tmp_path, method="lexical")
    results = run_benchmark(*bench, ["default", "lexical"], settings, _no_encoder)
    assert results["default"].rankings == results["lexical"].rankings


def test_unknown_method_is_rejected(bench, tmp_path):
    with pytest.raises(ValueError, match="unknown method"):
        run_benchmark(*bench, ["bm42"], _settings(tmp_path), _no_encoder)


def test_second_run_reuses_the_embedding_cache(bench, tmp_path):
    settings = _settings(tmp_path)
    first = FakeEncoder()
    made = []

    def factory(encoder):
        def make():
            made.append(encoder)
            return encoder

        return make

    results = run_benchmark(*bench, ["dense", "hybrid", "lexical"], settings, factory(first))
    assert made == [first]  # created once for all methods
    assert first.calls > 0
    assert len(first.texts) == len(set(first.texts))  # every passage and query embedded once
    assert {q["text"] for q in QUERIES} <= set(first.texts)

    second = FakeEncoder()
    again = run_benchmark(*bench, ["dense", "hybrid", "lexical"], settings, factory(second))
    assert second.calls == 0
    assert to_json(again) == to_json(results)
    assert again["dense"].rankings == results["dense"].rankings


def test_format_table_and_json(bench, tmp_path):
    results = run_benchmark(*bench, ["lexical"], _settings(tmp_path), _no_encoder)
    data = to_json(results)
    assert list(data) == ["lexical"]
    assert set(data["lexical"]) == METRICS
    assert data["lexical"]["queries"] == 4
    assert isinstance(data["lexical"]["queries"], int)
    assert all(isinstance(data["lexical"][k], float) for k in METRICS - {"queries"})
    json.dumps(data)
    lines = format_table(results).splitlines()
    assert lines[0] == "| method | MAP@5 | MRR | R@1 | R@5 | R@10 | nDCG@10 | queries |"
    assert lines[1].startswith("|")
    assert lines[2].startswith("| lexical | 0.750 |")
    assert lines[2].endswith("| 4 |")
    assert len(lines) == 3


@pytest.mark.parametrize(
    ("name", "content", "line", "loader"),
    [
        ("corpus.jsonl", '{"id": "a", "text": "x"}\n{"id": "b", "text": \n', 2, load_corpus),
        ("corpus.jsonl", '{"id": "a", "text": "x"}\n\n{"id": "b", "title": "t"}\n', 3, load_corpus),
        ("corpus.jsonl", '{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', 2, load_corpus),
        ("corpus.jsonl", '["a", "x"]\n', 1, load_corpus),
        ("queries.jsonl", '{"id": "q", "text": "x", "exclude": "d1"}\n', 1, load_queries),
        ("queries.jsonl", '{"text": "x"}\n', 1, load_queries),
        ("test.qrels", "q1 0 d1 1\nq2 0 d2\n", 2, load_qrels),
        ("test.qrels", "q1 0 d1 1\nq2 0 d2 yes\n", 2, load_qrels),
        ("test.qrels", "q1 0 d1 1\n\nq1 0 d1 0\n", 3, load_qrels),
    ],
)
def test_loader_errors_name_file_and_line(tmp_path, name, content, line, loader):
    path = _write(tmp_path / name, content)
    with pytest.raises(BenchmarkFormatError) as caught:
        loader(path)
    assert isinstance(caught.value, ValueError)
    assert f"{path}:{line}:" in str(caught.value)
    assert caught.value.line == line


def test_malformed_benchmark_fails_before_embedding(bench, tmp_path):
    corpus_path, queries_path, _ = bench
    bad = _write(tmp_path / "bad.qrels", "q1 0 d1\n")
    encoder = FakeEncoder()
    with pytest.raises(BenchmarkFormatError, match="bad.qrels:1:"):
        run_benchmark(corpus_path, queries_path, bad, ["dense"], _settings(tmp_path), lambda: encoder)
    assert encoder.calls == 0
