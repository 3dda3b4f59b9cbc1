"""Index files (index/files.py) and int8 vector rows (index/vectors.py): mapped, checked, rebuilt when
stale or damaged, and scored exactly as a full build scores them."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from recommender.articles.model import Article, Section
from recommender.config import Settings
from recommender.index import vectors as vector_module
from recommender.index.dense import DenseIndex
from recommender.index.files import IndexFiles, fingerprint
from recommender.index.snapshot import Snapshot
from recommender.index.vectors import VectorRows
from recommender.linking.verify import verify_links
from recommender.services import Services
from recommender.store.sqlite import SQLiteStore
from recommender.store.vectors import Int8Rows, dequantize, quantize
from tests.fakes import HashingEncoder


@pytest.fixture()
def store_backend() -> str:
    """Index files are SQLite mode's (PostgreSQL ranks in the database): SQLite whatever RECOMMENDER_TEST_STORE says."""
    return "sqlite"


def _unit(rng: np.random.Generator, rows: int, dim: int = 24) -> np.ndarray:
    values = rng.standard_normal((rows, dim)).astype(np.float32)
    return values / np.linalg.norm(values, axis=1, keepdims=True)


def _article(article_id: str, body: str, questions: list[str]) -> Article:
    return Article(id=article_id, title=f"Fact check {article_id}", summary=body,
                   sections=[Section(heading="Details", text=body + " More details follow.")], questions=questions)


def _sets(settings: Settings) -> list[Path]:
    root = IndexFiles.beside(settings.db).root
    return sorted(p for p in root.iterdir() if not p.name.startswith(".")) if root.exists() else []


def _saved(settings: Settings, articles: list[Article]) -> Path:
    """A database holding `articles` and the index files of its content (written by the full build of
    the next open: small writes carry the index over in memory and leave the files as they were)."""
    services = Services.start(settings, encoder=HashingEncoder())
    services.catalog.ingest(articles)
    services.close()
    Services.start(settings, encoder=HashingEncoder()).close()
    [folder] = _sets(settings)
    return folder


def _full(services: Services) -> Snapshot:
    return Snapshot.build(services.store.load_index(), services.holder.encoder, services.holder.ranker_config)


def _mapped(snapshot: Snapshot) -> bool:
    dense = snapshot.ranker.dense
    assert dense is not None
    return isinstance(dense.vectors.base.codes.base, np.memmap) or type(dense.vectors.base.codes.base).__name__ == "mmap"


# -- vectors -------------------------------------------------------------------------------------
def test_quantised_rows_stay_within_half_a_step_and_a_row_reads_the_same_every_way() -> None:
    rng = np.random.default_rng(3)
    rows = _unit(rng, 50)
    rows[7] = 0.0  # a zero row stays zero
    codes, scales = quantize(rows)
    back = dequantize(codes, scales)
    assert codes.dtype == np.int8 and np.abs(codes).max() == 127
    assert np.all(np.abs(back - rows) <= scales[:, None] / 2 + 1e-7)
    assert not back[7].any()
    vectors = VectorRows.of(rows[:30], 24).appended(rows[30:40]).appended(rows[40:])
    np.testing.assert_array_equal(vectors.dense(), back)
    np.testing.assert_array_equal(vectors[[45, 2, 31, 2]], back[[45, 2, 31, 2]])
    np.testing.assert_array_equal(vectors[33], back[33])
    np.testing.assert_array_equal(vectors.rows(25, 35), back[25:35])  # across base and tail


def test_block_wise_scores_equal_the_whole_matrix_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vector_module, "BLOCK_ROWS", 7)
    monkeypatch.setattr("recommender.index.dense.KERNEL_ROWS", 7)
    monkeypatch.setattr("recommender.index.products.KERNEL_ROWS", 5)
    rng = np.random.default_rng(5)
    groups = [_unit(rng, int(n)) for n in rng.integers(1, 6, size=40)]
    index = DenseIndex.from_groups(groups[:30], 24).appended(groups[30:])
    queries = dequantize(*quantize(_unit(rng, 9)))  # the index quantises queries too (index/products.py)
    reference_rows = dequantize(*quantize(np.concatenate(groups)))
    offsets = np.concatenate([[0], np.cumsum([len(g) for g in groups])])
    reference = np.maximum.reduceat(queries @ reference_rows.T, offsets[:-1], axis=1)
    np.testing.assert_allclose(index.scores(queries), reference, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(index.vectors @ queries.T, reference_rows @ queries.T, rtol=1e-6, atol=1e-6)
    # ...and within the quantisation error of the float32 scores
    exact = np.maximum.reduceat(queries @ np.concatenate(groups).T, offsets[:-1], axis=1)
    assert np.abs(index.scores(queries) - exact).max() < 0.02


def test_the_store_hands_over_the_codes_the_index_would_make(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    rows = _unit(rng, 5000)
    from recommender.store.sqlite import _read_matrix

    store = SQLiteStore(tmp_path / "v.db", "m")
    conn = store._conn()
    conn.execute("CREATE TABLE v (id INTEGER, vector BLOB)")
    conn.executemany("INSERT INTO v VALUES (?, ?)", [(i, r.tobytes()) for i, r in enumerate(rows)])
    found, others = _read_matrix(conn, "SELECT id, vector FROM v ORDER BY id", "v")
    store.close()
    codes, scales = quantize(rows)
    assert isinstance(found, Int8Rows) and len(others) == 5000
    np.testing.assert_array_equal(found.codes, codes)
    np.testing.assert_array_equal(found.scales, scales)


# -- files ---------------------------------------------------------------------------------------
def test_a_full_build_is_saved_and_the_next_open_maps_it(settings: Settings, sample_articles) -> None:  # type: ignore[no-untyped-def]
    folder = _saved(settings, sample_articles)
    assert {p.name for p in folder.iterdir()} >= {"meta.json", "passages.codes.npy", "lexical.docs.npy", "vocab.tokenizer.json"}
    assert not list(folder.glob("*.pkl"))

    reopened = Services.open(settings, encoder=HashingEncoder())
    try:
        snapshot = reopened.holder.snapshot()
        assert _mapped(snapshot)
        full = _full(reopened)
        assert snapshot.articles == full.articles and snapshot.questions == full.questions
        np.testing.assert_array_equal(snapshot.question_vectors, full.question_vectors)
        np.testing.assert_array_equal(snapshot.table.token_ids, full.table.token_ids)
        assert len(full.table.pairs.keys) > 0  # the questions' term pairs are read from the files, not recomputed
        np.testing.assert_array_equal(snapshot.table.pairs.keys, full.table.pairs.keys)
        np.testing.assert_array_equal(snapshot.table.pairs.rows, full.table.pairs.rows)
        queries = ["Who pays for tariffs?", "measles vaccination", "warmest year on record"]
        np.testing.assert_array_equal(
            snapshot.ranker.score_matrix(queries, snapshot.ranker.encode(queries))[2],
            full.ranker.score_matrix(queries, full.ranker.encode(queries))[2],
        )
        assert snapshot.ranker.lexical is not None and full.ranker.lexical is not None
        assert snapshot.ranker.lexical.text_ids(["zebra tariffs"]) == full.ranker.lexical.text_ids(["zebra tariffs"])
    finally:
        reopened.close()


def test_files_go_stale_when_another_process_writes_and_are_rebuilt(settings: Settings, sample_articles) -> None:  # type: ignore[no-untyped-def]
    before = _saved(settings, sample_articles[:20])
    services = Services.start(settings, encoder=HashingEncoder())
    try:
        assert _mapped(services.holder.snapshot())
        other = Services.open(settings, encoder=HashingEncoder())  # another process on the same database
        other.catalog.ingest([_article("zebra-1", "Zebra imports face new tariffs.", ["Do zebras pay tariffs?"])])
        other.close()
        rows = services.store.load_index(vectors=False)
        holder = services.holder
        assert fingerprint(rows, holder.encoder.model_id, holder.ranker_config) != before.name  # the old set is stale
        snapshot = services.holder.snapshot()  # this process follows the write over its mapped files
        assert "zebra-1" in snapshot.articles and _mapped(snapshot)
        assert [h.doc_id for h in snapshot.ranker.rank("zebra tariffs", 1)] == ["zebra-1"]
    finally:
        services.close()
    reopened = Services.start(settings, encoder=HashingEncoder())  # the next start: stale files, a full build
    try:
        snapshot = reopened.holder.snapshot()
        assert "zebra-1" in snapshot.articles and _mapped(snapshot)
        [after] = _sets(settings)
        assert after != before and after.name == fingerprint(reopened.store.load_index(vectors=False), holder.encoder.model_id, holder.ranker_config)
    finally:
        reopened.close()


@pytest.mark.parametrize("damage", ["flip", "truncate", "meta"])
def test_a_damaged_file_is_rebuilt_never_served(settings: Settings, sample_articles, damage: str) -> None:  # type: ignore[no-untyped-def]
    folder = _saved(settings, sample_articles[:20])
    target = folder / "passages.codes.npy"
    data = bytearray(target.read_bytes())
    if damage == "flip":
        data[-5] ^= 0x40
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(bytes(data[: len(data) // 2]))
    else:
        (folder / "meta.json").write_text("{not json")
    reopened = Services.open(settings, encoder=HashingEncoder())
    try:
        snapshot = reopened.holder.snapshot()
        full = _full(reopened)
        queries = ["Who pays for tariffs?", "measles vaccination"]
        np.testing.assert_array_equal(
            snapshot.ranker.score_matrix(queries, snapshot.ranker.encode(queries))[2],
            full.ranker.score_matrix(queries, full.ranker.encode(queries))[2],
        )
        [rewritten] = _sets(settings)
        assert rewritten.name == folder.name
        reread = reopened.holder.files.load(reopened.store.load_index(vectors=False), reopened.holder.encoder,  # type: ignore[union-attr]
                                            reopened.holder.ranker_config)
        assert reread is not None  # the rebuilt set is whole again
    finally:
        reopened.close()


def test_links_equal_a_full_recomputation_after_upserts_on_the_mapped_index(settings: Settings, sample_articles) -> None:  # type: ignore[no-untyped-def]
    _saved(settings, sample_articles)
    services = Services.start(settings, encoder=HashingEncoder())
    try:
        assert _mapped(services.holder.snapshot())
        rng = random.Random(11)
        for n in range(12):
            base = rng.choice(sample_articles)
            if n % 3 == 2:
                services.catalog.ingest([base.model_copy(update={"summary": base.summary + " Updated with zebra tariffs."})])
            else:
                services.catalog.ingest([_article(f"new-{n}", f"{base.summary} Zebra tariffs {n}.", [f"Do zebras pay tariffs {n}?"])])
        current = services.holder.snapshot()
        assert _mapped(current) and current.ranker.size > len(sample_articles)  # appended to the mapped base
        full = _full(services)
        result = verify_links(full, services.store.links_of, lambda qs, links: {q.id: None for q in qs}, settings.candidates)
        assert result.checked == result.questions > 100
        assert result.links_differ == 0, result.examples
    finally:
        services.close()


def test_a_set_for_other_content_is_not_served(tmp_path: Path, sample_articles) -> None:  # type: ignore[no-untyped-def]
    first = Settings(db=tmp_path / "a.db", cache_dir=tmp_path / "cache", refresh_seconds=0)
    second = Settings(db=tmp_path / "b.db", cache_dir=tmp_path / "cache", refresh_seconds=0, index_dir=tmp_path / "a.db.index")
    _saved(first, sample_articles[:10])
    other = Services.start(second, encoder=HashingEncoder())  # another database pointed at a's files
    try:
        other.catalog.ingest(sample_articles[10:15])
        snapshot = other.holder.snapshot()
        assert set(snapshot.articles) == {a.id for a in sample_articles[10:15]}
    finally:
        other.close()
