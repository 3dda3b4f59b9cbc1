"""Fine-tune a sentence-transformers encoder on triplets and write it to models/<name>/ with a card."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from recommender.training.examples import Triplet


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    seed: int = 13


@dataclass
class ModelCard:
    name: str
    base_model: str
    created: str
    data: dict[str, object]
    config: dict[str, object]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # {"passed": bool, "reason": str}: at least as good as the live model on held-out data?
    # `recommender models use` refuses a model whose gate did not pass (unless forced).
    gate: dict[str, object] = field(default_factory=dict)

    def write(self, folder: Path) -> None:
        (folder / "model_card.json").write_text(json.dumps(asdict(self), indent=2) + "\n")
        lines = [
            f"# {self.name}",
            "",
            f"Fine-tuned from `{self.base_model}` on {self.created}.",
            "",
            "## Data",
            *[f"- {key}: {value}" for key, value in self.data.items()],
            "",
            "## Training",
            *[f"- {key}: {value}" for key, value in self.config.items()],
            "",
            "## Metrics (before -> after)",
            "",
            "| split | metric | before | after |",
            "|---|---|---|---|",
        ]
        for split, values in self.metrics.items():
            for key in sorted(k for k in values if k.startswith("before:")):
                metric = key.split(":", 1)[1]
                lines.append(f"| {split} | {metric} | {values[key]:.4f} | {values.get('after:' + metric, float('nan')):.4f} |")
        if self.gate:
            verdict = "passed" if self.gate.get("passed") else "NOT passed"
            lines += ["", "## Gate", f"{verdict}: {self.gate.get('reason', '')}"]
        if self.notes:
            lines += ["", "## Notes", *[f"- {n}" for n in self.notes]]
        (folder / "README.md").write_text("\n".join(lines) + "\n")


def train_encoder(base_path: Path, triplets: Sequence[Triplet], out: Path, config: TrainConfig) -> Path:
    """Train with MultipleNegativesRankingLoss (in-batch negatives plus one hard negative each)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_DISABLED", "true")
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        losses,
    )
    from sentence_transformers.training_args import BatchSamplers

    if not triplets:
        raise ValueError("no training examples")
    model = SentenceTransformer(str(base_path), device="cpu")
    dataset = Dataset.from_dict(
        {
            "anchor": [t.anchor for t in triplets],
            "positive": [t.positive for t in triplets],
            "negative": [t.negative for t in triplets],
        }
    )
    scratch = out.parent / f".{out.name}.training"
    args = SentenceTransformerTrainingArguments(
        output_dir=str(scratch),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_ratio=config.warmup_ratio,
        seed=config.seed,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        save_strategy="no",
        report_to="none",
        logging_steps=10,
        use_cpu=True,
        dataloader_num_workers=0,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=dataset, loss=losses.MultipleNegativesRankingLoss(model)
    )
    trainer.train()
    # Write beside the target and swap, so a half-written model never sits at models/<name>/.
    staging = out.parent / f".{out.name}.new"
    shutil.rmtree(staging, ignore_errors=True)
    model.save(str(staging))
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    shutil.rmtree(scratch, ignore_errors=True)
    return out


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
