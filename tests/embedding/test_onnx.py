"""The ONNX Runtime backend: same vectors as torch (fp32), close ones (int8), no torch at serving time.

The model is exported once per session into a temporary models folder (about 20 s: trace, fuse, quantise).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from recommender import cli
from recommender.config import Settings
from recommender.embedding import Encoder, factory
from recommender.embedding.export import SAMPLE, export_onnx
from recommender.embedding.factory import BackendUnavailable, create_encoder
from recommender.embedding.int8 import OUTLIERS
from recommender.embedding.onnx import INT8_FILE, MANIFEST, MODEL_FILE, OnnxEncoder, export_folder
from tests.conftest import ROOT, SAMPLE as SAMPLE_DATA

# One worker runs the whole module: its session fixture exports the model twice over (fp32 and int8),
# which two workers would each do.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tests/embedding/test_onnx.py")]
NAME = "all-MiniLM-L6-v2"
LONG = "The survey was repeated every year, and the figures were revised twice before publication. " * 30


def queries(n: int) -> list[str]:
    lines = (SAMPLE_DATA / "eval" / "queries.jsonl").read_text().splitlines()
    return [json.loads(line)["text"] for line in lines[:n]]


def fresh_models_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    # no registry.json: the one shipped with the package is found from the package
    return path


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding a fresh fp32 + int8 export (made once per session)."""
    folder = fresh_models_dir(tmp_path_factory.mktemp("onnx") / "models")
    export_onnx(NAME, folder, quantize=True)
    return folder


@pytest.fixture(scope="session")
def torch_encoder() -> Encoder:
    return create_encoder(NAME, ROOT / "models", backend="torch")


@pytest.fixture(scope="session")
def onnx_encoder(models_dir: Path) -> OnnxEncoder:
    encoder = create_encoder(NAME, models_dir, backend="onnx")
    assert isinstance(encoder, OnnxEncoder)
    return encoder


@pytest.fixture(scope="session")
def int8_encoder(models_dir: Path) -> OnnxEncoder:
    encoder = create_encoder(NAME, models_dir, backend="onnx-int8")
    assert isinstance(encoder, OnnxEncoder)
    return encoder


def test_fp32_vectors_match_torch_and_share_its_model_id(onnx_encoder: OnnxEncoder, torch_encoder: Encoder) -> None:
    texts = [*queries(40), *SAMPLE, LONG]
    got, expected = onnx_encoder.encode(texts), torch_encoder.encode(texts, batch_size=16)
    assert got.dtype == np.float32 and got.shape == (len(texts), 384)
    assert np.abs(got - expected).max() < 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert onnx_encoder.model_id == torch_encoder.model_id
    assert (onnx_encoder.dim, onnx_encoder.max_tokens) == (torch_encoder.dim, torch_encoder.max_tokens) == (384, 256)


def test_int8_vectors_are_close_and_have_their_own_model_id(int8_encoder: OnnxEncoder, torch_encoder: Encoder) -> None:
    texts = queries(60)
    cosines = np.sum(int8_encoder.encode(texts) * torch_encoder.encode(texts, batch_size=16), axis=1)
    assert cosines.min() >= 0.99, cosines.min()
    assert int8_encoder.model_id == torch_encoder.model_id + "+int8row2"  # not format 1's dynamic "+int8"


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_a_vector_does_not_depend_on_the_other_texts_of_its_batch(models_dir: Path, backend: str) -> None:
    # Re-encoding a text in other company (a re-ingest, a search) must give the same vector, or
    # scores would move with nothing changed. Both models run whole batches (int8 included: its
    # activations are quantised per token, not per batch).
    encoder = create_encoder(NAME, models_dir, backend=backend)
    texts = [*queries(8), *SAMPLE[::2], LONG, LONG[:700], LONG[:400]]
    together = encoder.encode(texts, batch_size=64)
    alone = np.stack([encoder.encode([t])[0] for t in texts])
    other_mates = encoder.encode([*texts[::-1], *queries(30)], batch_size=16)[: len(texts)][::-1]
    tolerance = 0.0 if backend == "onnx-int8" else 1e-6  # fp32 sums may round differently per batch shape
    assert np.abs(alone - together).max() <= tolerance
    assert np.abs(other_mates - together).max() <= tolerance


def test_the_export_is_fused_and_the_int8_model_quantises_every_weight(models_dir: Path) -> None:
    import onnx

    folder = export_folder(NAME, models_dir)
    fp32 = {n.op_type for n in onnx.load(str(folder / MODEL_FILE), load_external_data=False).graph.node}
    assert {"Attention", "SkipLayerNormalization", "BiasGelu"} <= fp32  # ONNX Runtime's transformer fusions
    int8 = onnx.load(str(folder / INT8_FILE), load_external_data=False).graph
    weights = {i.name: i for i in int8.initializer}
    assert sum(n.op_type == "MatMulIntegerToFloat" for n in int8.node) == 6 * 3  # out-projection, FFN in, FFN out
    fp32_products = [weights[n.input[1]].dims for n in int8.node if n.op_type == "MatMul" and n.input[1] in weights]
    assert fp32_products == [[OUTLIERS, 1536]] * 6  # only each FFN input's loud LayerNorm columns


def test_count_tokens_equals_the_hf_tokenizer(onnx_encoder: OnnxEncoder, torch_encoder: Encoder) -> None:
    texts = [*SAMPLE, LONG, "", "Ünïcödé and 東京 and emoji 🌍"]
    assert [onnx_encoder.count_tokens(t) for t in texts] == [torch_encoder.count_tokens(t) for t in texts]
    assert onnx_encoder.count_tokens(LONG) > 256  # counting never truncates


def test_order_is_kept_across_mixed_lengths(onnx_encoder: OnnxEncoder) -> None:
    texts = ["short", LONG, "a medium sized question about tariffs?", "x", LONG[:300], "another one", "?"]
    batched = onnx_encoder.encode(texts, batch_size=3)
    one_by_one = np.vstack([onnx_encoder.encode([t]) for t in texts])
    assert np.abs(batched - one_by_one).max() < 1e-5


def test_empty_input_gives_an_empty_matrix(onnx_encoder: OnnxEncoder, int8_encoder: OnnxEncoder) -> None:
    for encoder in (onnx_encoder, int8_encoder):
        vectors = encoder.encode([])
        assert vectors.shape == (0, 384) and vectors.dtype == np.float32


def test_serving_imports_no_torch(models_dir: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from recommender.embedding.onnx import OnnxEncoder\n"
        "from recommender.embedding.factory import create_encoder\n"
        f"folder = Path({str(export_folder(NAME, models_dir))!r})\n"
        "assert OnnxEncoder(folder, 'x', threads=1).encode(['Is sea-level rise speeding up?']).shape == (1, 384)\n"
        f"for backend in ('auto', 'onnx', 'onnx-int8'):\n"
        f"    assert create_encoder({NAME!r}, folder.parent, backend=backend).encode(['hi']).shape == (1, 384)\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_factory_picks_the_backend(models_dir: Path, tmp_path: Path) -> None:
    from recommender.embedding.sentence_transformers import SentenceTransformerEncoder

    assert isinstance(create_encoder(NAME, models_dir), OnnxEncoder)  # auto, with a current export
    assert isinstance(create_encoder(NAME, models_dir, backend="torch"), SentenceTransformerEncoder)
    bare = fresh_models_dir(tmp_path / "bare")
    assert isinstance(create_encoder(NAME, bare), SentenceTransformerEncoder)  # auto, no export
    with pytest.raises(ValueError, match="unknown backend"):
        create_encoder(NAME, models_dir, backend="tensorflow")  # type: ignore[arg-type]


def test_a_stale_export_is_not_used(models_dir: Path, tmp_path: Path) -> None:
    from recommender.embedding.sentence_transformers import SentenceTransformerEncoder

    stale = fresh_models_dir(tmp_path / "stale")
    shutil.copytree(export_folder(NAME, models_dir), export_folder(NAME, stale))
    manifest_path = export_folder(NAME, stale) / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["source"]["model_id"] = f"{NAME}@000000000000"  # exported from other weights
    manifest_path.write_text(json.dumps(manifest))
    assert isinstance(create_encoder(NAME, stale), SentenceTransformerEncoder)


def test_without_torch_a_missing_export_says_how_to_make_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "torch_available", lambda: False)
    bare = fresh_models_dir(tmp_path / "bare")
    for backend in ("auto", "onnx", "onnx-int8"):
        with pytest.raises(BackendUnavailable, match="recommender models export"):
            create_encoder(NAME, bare, backend=backend)  # type: ignore[arg-type]


def test_onnx_backends_export_on_demand(models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """backend=onnx-int8 with only the fp32 export present asks the exporter for the int8 model."""
    import recommender.embedding.export as export

    target = fresh_models_dir(tmp_path / "partial")
    shutil.copytree(export_folder(NAME, models_dir), export_folder(NAME, target))
    (export_folder(NAME, target) / INT8_FILE).unlink()
    calls = []

    def fake_export(name: str, folder: Path, quantize: bool = True, force: bool = False) -> None:
        calls.append((name, folder, quantize))
        shutil.copy(export_folder(NAME, models_dir) / INT8_FILE, export_folder(NAME, folder) / INT8_FILE)

    monkeypatch.setattr(export, "export_onnx", fake_export)
    assert not create_encoder(NAME, target, backend="onnx").model_id.endswith("+int8row2")
    assert calls == []  # fp32 present: nothing to export
    assert create_encoder(NAME, target, backend="onnx-int8").model_id.endswith("+int8row2")
    assert calls == [(NAME, target, True)]


def test_an_int8_model_of_an_earlier_scheme_is_made_again(models_dir: Path, tmp_path: Path) -> None:
    """Its vectors would differ from what the current variant id promises: the exporter re-quantises
    the fp32 model (kept as it is) and records the scheme."""
    target = fresh_models_dir(tmp_path / "older")
    folder = export_folder(NAME, target)
    shutil.copytree(export_folder(NAME, models_dir), folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    del manifest["files"][INT8_FILE]["variant"]  # as an export of the plain row-wise scheme left it
    (folder / MANIFEST).write_text(json.dumps(manifest))
    (folder / INT8_FILE).write_bytes(b"an older int8 model")
    fp32 = (folder / MODEL_FILE).read_bytes()
    encoder = create_encoder(NAME, target, backend="onnx-int8")
    assert encoder.model_id.endswith("+int8row2") and encoder.encode(["Who pays tariffs?"]).shape == (1, 384)
    assert json.loads((folder / MANIFEST).read_text())["files"][INT8_FILE]["variant"] == "int8row2"
    assert (folder / INT8_FILE).read_bytes() == (export_folder(NAME, models_dir) / INT8_FILE).read_bytes()
    assert (folder / MODEL_FILE).read_bytes() == fp32


def test_export_again_is_a_no_op(models_dir: Path) -> None:
    model = export_folder(NAME, models_dir) / MODEL_FILE
    before = model.stat().st_mtime_ns
    report = export_onnx(NAME, models_dir, quantize=True)
    assert not report.exported
    assert model.stat().st_mtime_ns == before
    checks = {c.file: c for c in report.checks}
    assert checks[MODEL_FILE].max_abs_deviation < 1e-5
    assert checks[INT8_FILE].min_cosine > 0.98
    assert report.tokens_match and report.sample_size == len(SAMPLE)


def test_cli_models_export_prints_the_deviations(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOMMENDER_MODELS_DIR", str(models_dir))
    result = CliRunner().invoke(cli.app, ["models", "export"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    assert "max |deviation|" in result.output and "model-int8.onnx" in result.output


def test_backend_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECOMMENDER_BACKEND", raising=False)
    # The default is the backend the quality rule chose (scripts/bench_backends_quality.py writes it).
    page = (ROOT / "docs" / "performance.md").read_text()
    chosen = re.search(r"Chosen: \*\*([a-z0-9-]+)\*\*", page)
    assert chosen and Settings().backend == chosen.group(1)
    monkeypatch.setenv("RECOMMENDER_BACKEND", "auto")
    assert Settings().backend == "auto"
