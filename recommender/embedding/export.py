"""Export an encoder to ONNX for the torch-free backend (recommender.embedding.onnx).

Runs offline from the packaged (or trained) model and needs torch, sentence-transformers and
onnx: it is an export-time step (`recommender models export`), never a serving one. The export
goes to ``models/<name>-onnx/`` and is verified against the torch encoder on a fixed sample;
the deviations are written to its export.json. Re-running is a no-op while the export matches
the source model's fingerprint, unless forced.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from recommender.embedding.registry import base_model_name, model_id_for, resolve_model
from recommender.embedding.onnx import (
    FORMAT,
    INT8_FILE,
    INT8_VARIANT,
    MANIFEST,
    MODEL_FILE,
    OnnxEncoder,
    export_folder,
    int8_current,
    onnx_model_id,
    read_manifest,
)

OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")

_FILLER = (
    "The figure was first published in a government report and later repeated by several campaigns, "
    "although the underlying survey used a different definition of unemployment than the one quoted. "
    "Economists we contacted said the comparison mixes annual and monthly data, and that the trend "
    "since 2019 depends heavily on which month is used as the starting point. "
)

# Fixed verification sample: questions, claims, numbers, punctuation, non-ASCII text, near-empty
# strings and passages longer than the 256-token limit (so truncation is checked too).
SAMPLE: tuple[str, ...] = (
    "Was 2024 the warmest year on record?",
    "How much of the warming since the 1800s is caused by people?",
    "Is sea-level rise speeding up?",
    "Did arsonists start Australia's Black Summer fires?",
    "Do tariffs raise prices for consumers?",
    "Who pays for a tariff on imported steel?",
    "Does ivermectin cure COVID-19?",
    "Are vaccines linked to autism?",
    "Is violent crime rising in big cities?",
    "Did the police budget fall after 2020?",
    "Can the International Criminal Court arrest a head of state?",
    "What share of the federal budget goes to foreign aid?",
    "Is the minimum wage higher than it was in 1968, adjusted for inflation?",
    "Unemployment fell to 3.4% in January 2023, the lowest since 1969.",
    "The claim that 97% of scientists agree is based on a 2013 study of 11,944 abstracts.",
    "Immigrants commit more crimes than native-born citizens.",
    "Wind turbines kill more birds than cats do.",
    "Electric cars produce more CO2 than petrol cars over their lifetime.",
    "5G towers spread the coronavirus.",
    "The Great Wall of China is visible from space with the naked eye.",
    "Voter fraud changed the result of the 2020 election.",
    "Crime went down 20 percent last year, the mayor said.",
    "Fact check: no, the WHO did not declare a new pandemic.",
    "€1.2bn was spent on the project — twice the original estimate (£0.9bn).",
    "Est-ce que le réchauffement climatique ralentit ?",
    "¿Subieron los precios después de los aranceles?",
    "Die Inflation lag im Oktober bei 2,4 Prozent.",
    "東京の人口は減少していますか？",
    "Населення України скоротилося?",
    "Is 🌍 getting hotter? 🔥🔥",
    "COVID-19 vs. flu: which is deadlier?!",
    "GDP growth q/q: +0.3%; y/y: +1.1% (seasonally adjusted).",
    "https://example.org/report?id=42&lang=en",
    "e-mail: press@example.org, tel. +44 20 7946 0958",
    "ALL CAPS HEADLINE ABOUT TAXES",
    "taxes",
    "?",
    "a",
    "   padded   with   spaces   ",
    "Line one.\nLine two.\tTabbed.",
    "Don't, won't, can't: contractions and 'quotes' and \"double quotes\".",
    "The bill, which passed 52-48 in the Senate, includes $370 billion for energy and climate programmes.",
    "According to the ONS, net migration was 685,000 in the year to December 2023.",
    "Scientists say the study, funded by the industry, was not peer reviewed and used a sample of 12 people.",
    "Hospital admissions rose in the winter, but fewer patients needed intensive care than in previous waves.",
    _FILLER,
    _FILLER * 2,
    _FILLER * 4,  # > 256 tokens: truncated
    ("Was the claim true? " + _FILLER) * 3,
    " ".join(f"word{i}" for i in range(400)),  # far beyond the limit, many word pieces
)


class ExportError(RuntimeError):
    pass


@dataclass(frozen=True)
class FileCheck:
    """One exported model file compared with the torch encoder on SAMPLE."""

    file: str
    model_id: str
    bytes: int
    max_abs_deviation: float
    min_cosine: float
    mean_cosine: float


@dataclass
class ExportReport:
    name: str
    folder: Path
    source_model_id: str
    exported: bool  # False: the existing export was up to date and left alone
    created: str
    checks: list[FileCheck] = field(default_factory=list)
    tokens_match: bool = True
    sample_size: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        head = "exported" if self.exported else "up to date (use --force to export again)"
        out = [
            f"{self.name}: {head} -> {self.folder}" + (f" in {self.seconds:.1f} s" if self.exported else ""),
            f"  source {self.source_model_id}, exported {self.created}",
            f"  checked against the torch encoder on {self.sample_size} sample texts:",
        ]
        for check in self.checks:
            out.append(
                f"  {check.file:<16} {check.bytes / 1e6:6.1f} MB  max |deviation| {check.max_abs_deviation:.2e}  "
                f"cosine min {check.min_cosine:.4f} mean {check.mean_cosine:.4f}  model id {check.model_id}"
            )
        out.append(f"  token counts {'identical to' if self.tokens_match else 'DIFFERENT from'} the torch tokenizer")
        return out


def export_onnx(
    model_name: str, models_dir: Path, quantize: bool = True, force: bool = False, opset: int = OPSET
) -> ExportReport:
    """Write (or reuse) models/<model_name>-onnx/ and report how far it is from the torch encoder."""
    started = time.perf_counter()
    models_dir = Path(models_dir)
    model_name = base_model_name(model_name, models_dir)  # an adapter entry is served by its base's export
    spec = resolve_model(model_name, models_dir)
    source_id = model_id_for(spec)
    folder = export_folder(model_name, models_dir)
    work = models_dir / ".export"  # a subfolder, so git ignores it like the exports
    work.mkdir(parents=True, exist_ok=True)
    with _locked(work / f"{model_name}.lock"):
        manifest = read_manifest(folder)
        current = (
            not force
            and manifest is not None
            and manifest["source"]["model_id"] == source_id
            and (folder / MODEL_FILE).exists()
        )
        if current and (not quantize or int8_current(folder, manifest)):
            assert manifest is not None
            return _report(model_name, folder, manifest, exported=False, seconds=0.0)

        from recommender.embedding.sentence_transformers import SentenceTransformerEncoder

        reference = SentenceTransformerEncoder(spec.path, source_id)
        expected = reference.encode(SAMPLE, batch_size=16)
        if current:  # the fp32 export is good, only the int8 model is missing or of an older scheme
            assert manifest is not None
            partial = folder / f".{INT8_FILE}.tmp"
            _quantize(folder / MODEL_FILE, partial)
            partial.replace(folder / INT8_FILE)
            manifest["files"][INT8_FILE] = {**_check(folder, INT8_FILE, source_id, expected), "variant": INT8_VARIANT}
            _write_json(folder / MANIFEST, manifest)
            return _report(model_name, folder, manifest, exported=True, seconds=time.perf_counter() - started)

        staging = work / f"{model_name}-onnx.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            _export_transformer(reference, staging / MODEL_FILE, opset)
            _write_configs(reference, staging)
            files = {MODEL_FILE: _check(staging, MODEL_FILE, source_id, expected)}
            if quantize:
                _quantize(staging / MODEL_FILE, staging / INT8_FILE)
                files[INT8_FILE] = {**_check(staging, INT8_FILE, source_id, expected), "variant": INT8_VARIANT}
            onnx_encoder = OnnxEncoder(staging, source_id)
            logging.disable(logging.WARNING)  # transformers warns about texts longer than the model's limit
            try:
                tokens_match = all(onnx_encoder.count_tokens(t) == reference.count_tokens(t) for t in SAMPLE)
            finally:
                logging.disable(logging.NOTSET)
            manifest = {
                "format": FORMAT,
                "source": {"name": model_name, "model_id": source_id, "path": str(spec.path)},
                "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "opset": opset,
                "dim": reference.dim,
                "max_tokens": reference.max_tokens,
                "sample_size": len(SAMPLE),
                "tokens_match": tokens_match,
                "files": files,
                "versions": _versions(),
            }
            _write_json(staging / MANIFEST, manifest)
            _swap(staging, folder, work)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return _report(model_name, folder, manifest, exported=True, seconds=time.perf_counter() - started)


def _report(name: str, folder: Path, manifest: dict[str, Any], exported: bool, seconds: float) -> ExportReport:
    checks = [
        FileCheck(
            file,
            onnx_model_id(manifest, int8=file == INT8_FILE),
            (folder / file).stat().st_size,
            float(info["max_abs_deviation"]),
            float(info["min_cosine"]),
            float(info.get("mean_cosine", info["min_cosine"])),
        )
        for file, info in manifest["files"].items()
        if (folder / file).exists()
    ]
    return ExportReport(
        name=name,
        folder=folder,
        source_model_id=manifest["source"]["model_id"],
        exported=exported,
        created=manifest["created"],
        checks=checks,
        tokens_match=bool(manifest.get("tokens_match", False)),
        sample_size=int(manifest.get("sample_size", 0)),
        seconds=seconds,
    )


def _export_transformer(reference: Any, path: Path, opset: int, fuse: bool = True) -> None:
    """The transformer only (token embeddings out): pooling and normalisation are done in numpy.

    fuse=False: the model's default attention traced as it is and left unfused (export format 1; kept
    for scripts/bench_encoders.py --levers, which measures what the fusions gain)."""
    import torch

    model = reference._model  # the SentenceTransformer the reference encoder runs
    modules = [type(m).__name__ for m in model]
    if not modules or modules[0] != "Transformer" or modules[1:] not in (["Pooling"], ["Pooling", "Normalize"]):
        raise ExportError(f"cannot export {modules}: only Transformer + Pooling (+ Normalize) models are supported")
    pooling = model[1].get_config_dict()
    if pooling.get("pooling_mode") not in ("mean", "cls", "max"):
        raise ExportError(f"pooling {pooling} is not supported by the ONNX backend")
    tokenizer = model.tokenizer
    names = [n for n in INPUTS if n in tokenizer.model_input_names]

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.transformer(**dict(zip(names, inputs))).last_hidden_state

    # eval() matters: the exporter restores the wrapper's mode afterwards, and a new Module is in
    # training mode, which would leave dropout on in the shared reference model.
    transformer = model[0].auto_model
    wrapper = TokenEmbeddings(transformer).eval()
    dummy = tokenizer(["a short text", "a somewhat longer text to trace the export"], padding=True, return_tensors="pt")
    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
    raw = path.with_name(path.name + ".raw")
    attention = _eager_attention(transformer) if fuse else contextlib.nullcontext()
    with warnings.catch_warnings(), torch.no_grad(), attention:
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
        torch.onnx.export(
            wrapper,
            tuple(dummy[n] for n in names),
            str(raw),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,  # the torch.export-based default needs onnxscript and gains nothing here
        )
    try:
        if fuse:
            _optimize(raw, path, transformer.config)
        else:
            raw.replace(path)
    finally:
        raw.unlink(missing_ok=True)


@contextlib.contextmanager
def _eager_attention(transformer: Any) -> Iterator[None]:
    """Trace the plain (eager) attention: the SDPA path traces into IsNaN/Where masking that ONNX Runtime's
    transformer optimizer cannot fuse, and that alone cost 14% of a passage's time."""
    before = getattr(transformer.config, "_attn_implementation", None)
    switch = getattr(transformer, "set_attn_implementation", None)
    if switch is None or before in (None, "eager"):
        yield
        return
    switch("eager")
    try:
        yield
    finally:
        switch(before)


def _optimize(raw: Path, path: Path, config: Any) -> None:
    """ONNX Runtime's transformer fusions (attention, skip + LayerNorm, bias + GELU, embeddings + LayerNorm),
    saved in the export so every load runs the fused graph. opt_level 0: the Python fusions only, no
    ONNX Runtime session pass baked in (those are made for the machine that runs them, at load). A model
    the fusions do not fit is kept as traced; the deviation check after the export guards either way."""
    import onnx

    heads, hidden = getattr(config, "num_attention_heads", 0), getattr(config, "hidden_size", 0)
    logging.disable(logging.WARNING)  # the optimizer logs every fusion it tries
    try:
        from onnxruntime.transformers import optimizer

        fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
        fused.save_model_to_file(str(path))
    except Exception:  # noqa: BLE001 - an architecture the fusions do not know: the traced graph is correct
        onnx.save(onnx.load(str(raw)), str(path))
    finally:
        logging.disable(logging.NOTSET)


def _write_configs(reference: Any, folder: Path) -> None:
    """tokenizer.json and the sentence-transformers settings the ONNX encoder reads.

    No config.json / modules.json: with those, models/<name>-onnx/ would pass for a trained model folder.
    """
    from tokenizers import Tokenizer

    model = reference._model
    tokenizer = Tokenizer.from_str(model.tokenizer.backend_tokenizer.to_str())
    tokenizer.no_truncation()
    tokenizer.no_padding()
    tokenizer.save(str(folder / "tokenizer.json"))
    transformer = model[0]
    settings = {
        "max_seq_length": int(transformer.max_seq_length),
        "do_lower_case": bool(getattr(transformer, "do_lower_case", False)),
    }
    _write_json(folder / "sentence_bert_config.json", settings)
    (folder / "1_Pooling").mkdir(exist_ok=True)
    _write_json(folder / "1_Pooling" / "config.json", model[1].get_config_dict())


def _quantize(source: Path, target: Path) -> None:
    """Row-wise int8 (recommender.embedding.int8): reproducible in batches, no calibration set."""
    import onnx

    from recommender.embedding.int8 import quantize_rows

    model = onnx.load(str(source))
    if not quantize_rows(model):
        raise ExportError(f"{source}: no MatMul by a constant weight to quantise")
    onnx.save(model, str(target))


def _check(folder: Path, file: str, source_id: str, expected: np.ndarray) -> dict[str, float]:
    vectors = OnnxEncoder(folder, source_id, model_file=file).encode(SAMPLE, batch_size=16)
    return deviation(vectors, expected)


def deviation(vectors: np.ndarray, expected: np.ndarray) -> dict[str, float]:
    cosines = np.sum(vectors.astype(np.float64) * expected.astype(np.float64), axis=1)
    return {
        "max_abs_deviation": float(np.max(np.abs(vectors - expected))),
        "min_cosine": float(np.min(cosines)),
        "mean_cosine": float(np.mean(cosines)),
    }


def _versions() -> dict[str, str]:
    found = {}
    for package in ("torch", "transformers", "sentence-transformers", "onnx", "onnxruntime", "tokenizers"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    return found


def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    partial.replace(path)


def _swap(staging: Path, folder: Path, work: Path) -> None:
    """Replace `folder` by `staging` (a reader sees the old or the new export, briefly none)."""
    old = work / f"{folder.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.replace(old)
    staging.replace(folder)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One export of a model at a time (two servers starting with backend=onnx, say)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
