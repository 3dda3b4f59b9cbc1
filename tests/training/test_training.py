"""Training examples and a real (tiny) fine-tuning run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender.evaluation.benchmark import QueryRecord
from recommender.index.builder import Document, build_ranker
from recommender.index.ranker import RankerConfig
from recommender.training.examples import mine_triplets, split_queries
from tests.fakes import HashingEncoder

DOCS = [
    Document("tariffs", "Who pays tariffs", "importers pay tariffs", ("Who pays tariffs", "importers pay tariffs")),
    Document("trade", "Trade deficits and tariffs", "tariffs and trade deficits", ("Trade deficits and tariffs", "tariffs and trade deficits")),
    Document("owls", "Owl necks", "owls turn heads", ("Owl necks", "owls turn heads")),
]


def test_split_is_seeded_and_disjoint() -> None:
    queries = [QueryRecord(str(i), f"q{i}", ()) for i in range(20)]
    train, held = split_queries(queries, 0.25, seed=1)
    assert len(held) == 5 and len(train) == 15
    assert not {q.id for q in train} & {q.id for q in held}
    assert split_queries(queries, 0.25, seed=1) == (train, held)


def test_triplets_use_the_best_passage_and_a_hard_negative() -> None:
    ranker = build_ranker(DOCS, HashingEncoder(), RankerConfig("hybrid"))
    queries = [QueryRecord("q1", "who pays tariffs https://t.co/x", ())]
    triplets = mine_triplets(ranker, {d.id: d for d in DOCS}, queries, {"q1": {"tariffs": 1}})
    assert len(triplets) == 1
    triplet = triplets[0]
    assert triplet.anchor == "who pays tariffs"  # cleaned like a served query
    assert triplet.positive in DOCS[0].passages
    assert triplet.negative in DOCS[1].passages  # the closest wrong answer, not a random one


def test_editor_rejections_are_preferred_negatives() -> None:
    ranker = build_ranker(DOCS, HashingEncoder(), RankerConfig("hybrid"))
    queries = [QueryRecord("q1", "who pays tariffs", ())]
    triplets = mine_triplets(ranker, {d.id: d for d in DOCS}, queries, {"q1": {"tariffs": 1}}, rejected={"q1": ["owls"]})
    assert triplets[0].negative in DOCS[2].passages


@pytest.mark.slow
@pytest.mark.costly(12)
def test_fine_tuning_writes_a_loadable_model_with_a_card(tmp_path: Path) -> None:
    from recommender.embedding.factory import create_encoder
    from recommender.embedding.registry import resolve_model
    from recommender.training.examples import Triplet
    from recommender.training.finetune import ModelCard, TrainConfig, train_encoder
    from tests.conftest import ROOT

    base = resolve_model("all-MiniLM-L6-v2", ROOT / "models")
    models = tmp_path / "models"
    models.mkdir()
    triplets = [Triplet(str(i), f"who pays tariff {i}", "importers pay tariffs", "owls turn heads") for i in range(8)]
    out = train_encoder(base.path, triplets, models / "tiny", TrainConfig(epochs=1, batch_size=4))
    ModelCard("tiny", "base", "today", {"triplets": 8}, {"epochs": 1}, {"x": {"before:map@5": 0.5, "after:map@5": 0.6}}).write(out)
    encoder = create_encoder("tiny", models, backend="torch")
    assert encoder.encode(["who pays tariffs"]).shape == (1, 384)
    assert encoder.model_id.startswith("tiny@")
    assert json.loads((out / "model_card.json").read_text())["data"]["triplets"] == 8
    assert "| x | map@5 | 0.5000 | 0.6000 |" in (out / "README.md").read_text()
