"""Which encoder produced a stored vector, recovered from the model id every vector row records.

A model id reads ``NAME@WEIGHTS[+VARIANT]``:

- NAME: the registry name or trained folder under models/ (what RECOMMENDER_MODEL names);
- WEIGHTS: the first 12 hex digits of a fingerprint of the weight files (see factory.model_id_for),
  so retraining into the same folder is a new version;
- VARIANT: none for torch, and for the ONNX fp32 export when it reproduces torch's vectors (the two
  backends are interchangeable); ``onnx`` for an fp32 export that does not; ``int8row2`` for the
  row-wise int8 ONNX model (RECOMMENDER_BACKEND=onnx-int8); ``int8row`` and ``int8`` for the int8
  models of earlier releases, which no backend reproduces any more (such vectors are re-embedded).

E.g. ``all-MiniLM-L6-v2@4c6203507e0b+int8row2``: all-MiniLM-L6-v2, weights 4c6203507e0b, onnx-int8.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recommender.config import Backend
from recommender.embedding.base import Encoder
from recommender.embedding.factory import create_encoder

# The backends that can reproduce each variant, most likely first ("auto" picks the fp32 export when it
# is current, else torch: both give the variant-less id).
_BACKENDS: dict[str, tuple[Backend, ...]] = {"": ("auto", "torch"), "onnx": ("onnx",), "int8row2": ("onnx-int8",)}
_RETIRED = {
    "int8": "the dynamic int8 model of earlier releases (export format 1), replaced by row-wise int8",
    "int8row": "the plain row-wise int8 model of earlier releases, replaced by int8row2 (LayerNorm outliers in fp32)",
}


class EncoderUnavailable(RuntimeError):
    """The encoder of a model id cannot be loaded here (files gone, retrained weights, no runtime)."""


@dataclass(frozen=True)
class EncoderVersion:
    model_id: str
    name: str
    weights: str
    variant: str  # "", "onnx", "int8row2" (or a retired one, see _RETIRED)

    @property
    def backends(self) -> tuple[Backend, ...]:
        return _BACKENDS.get(self.variant, ())

    @property
    def backend(self) -> str:
        """For people: the runtime that made the vectors."""
        names = {"": "torch (or an identical ONNX fp32 export)", "onnx": "onnx", "int8row2": "onnx-int8"}
        return names.get(self.variant, f"{self.variant} (retired)" if self.variant in _RETIRED else self.variant)


def parse_model_id(model_id: str) -> EncoderVersion:
    """Split a model id into name, weights version and backend variant (see the module docstring)."""
    name, _, rest = model_id.rpartition("@")
    if not name:  # no version part: an id made outside model_id_for (e.g. a test encoder)
        name, rest = model_id, ""
    weights, _, variant = rest.partition("+")
    return EncoderVersion(model_id, name, weights, variant)


def load_encoder_of(model_id: str, models_dir: Path, name: str | None = None) -> Encoder:
    """The encoder whose vectors carry exactly `model_id` (`name`: the model name if known otherwise,
    e.g. recorded by a model switch). Raises EncoderUnavailable when none can be loaded here."""
    version = parse_model_id(model_id)
    problems: list[str] = []
    for backend in version.backends:
        try:
            encoder = create_encoder(name or version.name, models_dir, backend=backend)
        except Exception as exc:  # noqa: BLE001 - any failure to load means: not available here
            problems.append(f"{backend}: {exc}")
            continue
        if encoder.model_id == model_id:
            return encoder
        problems.append(f"{backend}: loads {encoder.model_id} (other weights)")
    if not problems:
        retired = _RETIRED.get(version.variant)
        problems.append(f"{retired}: no backend makes these vectors now" if retired else f"unknown backend variant {version.variant!r}")
    raise EncoderUnavailable(f"cannot load the encoder of {model_id}: " + "; ".join(problems))
