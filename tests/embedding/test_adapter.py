"""The linear adapter: loading (and refusing bad files), what it does to vectors, its model id, and the
registry entries that put one on top of a base encoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recommender.embedding.adapter import AdaptedEncoder, Adapter, AdapterError, adapted_model_id
from recommender.embedding.factory import create_encoder
from recommender.embedding.registry import ModelNotFound, adapter_entry, base_model_name, resolve_model
from recommender.embedding.versions import parse_model_id
from tests.fakes import HashingEncoder

DIM = 16


def write_adapter(folder: Path, matrix: np.ndarray, base_model_id: str = "hashing-test@1", stem: str = "a") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.npy"
    np.save(path, matrix)
    path.with_suffix(".json").write_text(json.dumps({"format": 1, "base_model_id": base_model_id}))
    return path


def rotation(seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(DIM, DIM)))
    return q.astype(np.float32)


def test_identity_adapter_keeps_the_vectors_but_not_the_model_id(tmp_path: Path) -> None:
    base = HashingEncoder(dim=DIM)
    adapted = AdaptedEncoder(base, Adapter.load(write_adapter(tmp_path, np.eye(DIM, dtype=np.float32))), "hashing-adapted")
    texts = ["the earth is warming", "vaccines and autism"]
    np.testing.assert_allclose(adapted.encode(texts), base.encode(texts), atol=1e-6)
    assert adapted.model_id != base.model_id
    assert parse_model_id(adapted.model_id).name == "hashing-adapted"
    assert adapted.dim == DIM and adapted.count_tokens("a b c") == 3


def test_vectors_are_mapped_normalised_and_independent_of_batch_mates(tmp_path: Path) -> None:
    matrix = np.diag(np.arange(1, DIM + 1)).astype(np.float32)
    adapted = AdaptedEncoder(HashingEncoder(dim=DIM), Adapter.load(write_adapter(tmp_path, matrix)), "x")
    texts = ["one claim about taxes", "another about the moon landing", "a third on elections"]
    together = adapted.encode(texts)
    alone = np.vstack([adapted.encode([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    raw = HashingEncoder(dim=DIM).encode(texts) @ matrix
    np.testing.assert_allclose(together, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)


def test_another_adapter_is_another_model_id_and_the_variant_is_kept(tmp_path: Path) -> None:
    one = Adapter.load(write_adapter(tmp_path, rotation(1), stem="one"))
    two = Adapter.load(write_adapter(tmp_path, rotation(2), stem="two"))
    assert adapted_model_id("m", "base@abc", one) != adapted_model_id("m", "base@abc", two)
    assert adapted_model_id("m", "base@abc", one) != adapted_model_id("m", "base@abd", one)
    int8 = parse_model_id(adapted_model_id("m", "base@abc+int8", one))
    assert int8.variant == "int8" and int8.name == "m"


@pytest.mark.parametrize(
    ("matrix", "problem"),
    [
        (np.zeros((DIM, DIM + 1), np.float32), "square"),
        (np.eye(DIM, dtype=np.float64), "float32"),
        (np.full((DIM, DIM), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_matrices_are_refused_naming_the_file(tmp_path: Path, matrix: np.ndarray, problem: str) -> None:
    path = write_adapter(tmp_path, matrix)
    with pytest.raises(AdapterError, match=problem) as info:
        Adapter.load(path)
    assert str(path) in str(info.value)


def test_a_missing_or_bad_card_is_refused(tmp_path: Path) -> None:
    path = write_adapter(tmp_path, np.eye(DIM, dtype=np.float32))
    path.with_suffix(".json").write_text("{}")
    with pytest.raises(AdapterError, match="format"):
        Adapter.load(path)
    path.with_suffix(".json").unlink()
    with pytest.raises(AdapterError, match="card is missing"):
        Adapter.load(path)
    with pytest.raises(AdapterError, match="no such adapter"):
        Adapter.load(tmp_path / "absent.npy")


def test_a_pickled_file_is_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.array([{"not": "numbers"}], dtype=object), allow_pickle=True)
    path.with_suffix(".json").write_text(json.dumps({"format": 1, "base_model_id": "hashing-test@1"}))
    with pytest.raises(AdapterError, match="not a .npy array"):
        Adapter.load(path)


def test_an_adapter_fitted_on_other_weights_or_dimensions_is_refused(tmp_path: Path) -> None:
    other = Adapter.load(write_adapter(tmp_path, np.eye(DIM, dtype=np.float32), base_model_id="hashing-test@2"))
    with pytest.raises(AdapterError, match="fitted on hashing-test@2"):
        AdaptedEncoder(HashingEncoder(dim=DIM), other, "x")
    with pytest.raises(AdapterError, match="maps 16 dimensions"):
        AdaptedEncoder(HashingEncoder(dim=DIM * 2), Adapter.load(write_adapter(tmp_path, np.eye(DIM, dtype=np.float32))), "x")


def test_registry_entries_adapt_a_base_model(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_adapter(models / "adapters", np.eye(DIM, dtype=np.float32))
    registry = {
        "encoders": {
            "adapted": {"adapts": "all-MiniLM-L6-v2", "adapter": "adapters/a.npy"},
            "twice": {"adapts": "adapted", "adapter": "adapters/a.npy"},
            "loop-a": {"adapts": "loop-b", "adapter": "adapters/a.npy"},
            "loop-b": {"adapts": "loop-a", "adapter": "adapters/a.npy"},
            "broken": {"adapter": "adapters/a.npy"},
        }
    }
    (models / "registry.json").write_text(json.dumps(registry))
    assert adapter_entry("adapted", models) == ("all-MiniLM-L6-v2", (models / "adapters/a.npy").resolve())
    assert adapter_entry("all-MiniLM-L6-v2", models) is None
    assert base_model_name("twice", models) == "all-MiniLM-L6-v2"
    # training and exporting an adapted model start from its base's weights
    assert resolve_model("twice", models).path == resolve_model("all-MiniLM-L6-v2", models).path
    with pytest.raises(ModelNotFound, match="circle"):
        base_model_name("loop-a", models)
    with pytest.raises(ModelNotFound, match='needs "adapts"'):
        create_encoder("broken", models)


def test_the_cache_of_an_adapted_encoder_is_its_base_encoders(tmp_path: Path) -> None:
    from recommender.embedding.cache import EmbeddingCache, encode_cached

    base = HashingEncoder(dim=DIM)
    adapted = AdaptedEncoder(base, Adapter.load(write_adapter(tmp_path / "a", rotation(3))), "x")
    texts = ["a claim about taxes", "the moon landing"]
    cache = EmbeddingCache(tmp_path / "cache", adapted.model_id)
    first = encode_cached(adapted, texts, cache)
    assert base.encoded == 2
    other = AdaptedEncoder(base, Adapter.load(write_adapter(tmp_path / "b", rotation(4))), "y")
    second = encode_cached(other, texts, EmbeddingCache(tmp_path / "cache", other.model_id))
    assert base.encoded == 2  # a refitted adapter re-runs no transformer
    np.testing.assert_allclose(first, adapted.encode(texts), atol=1e-6)
    np.testing.assert_allclose(second, other.encode(texts), atol=1e-6)
    assert encode_cached(adapted, [], cache).shape == (0, DIM)


def test_status_reports_the_runtime_under_the_adapter(tmp_path: Path) -> None:
    from recommender.status import encoder_backend

    adapted = AdaptedEncoder(HashingEncoder(dim=DIM), Adapter.load(write_adapter(tmp_path, rotation(5))), "x")
    assert encoder_backend(adapted, "auto") == "HashingEncoder"
