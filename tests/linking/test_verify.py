"""Links are a deterministic function of the articles: after any sequence of writes they equal a recomputation."""

from __future__ import annotations

import random

import pytest
from typer.testing import CliRunner

from recommender import cli
from recommender.articles.model import Article, Section
from recommender.config import Settings
from recommender.services import Services
from recommender.services import linking as linking_module
from recommender.linking import verify as verify_module
from recommender.domain import LinkRow
from tests.conftest import BOTH_STORES
from tests.fakes import HashingEncoder


def variant(rng: random.Random, base: Article, article_id: str, others: list[Article]) -> Article:
    """A new fact check built from pieces of the sample: it competes with real ones for real questions."""
    donor = rng.choice(others)
    sections = [*rng.sample(base.sections, k=max(1, len(base.sections) - 1)), rng.choice(donor.sections)]
    return Article(
        id=article_id,
        title=rng.choice([base.title, donor.title]),
        summary=" ".join(rng.sample((base.summary + " " + donor.summary).split(), k=30)),
        sections=[Section(heading=s.heading, text=s.text) for s in sections],
        questions=rng.sample([*base.questions, *donor.questions], k=2),
    )


# On PostgreSQL the ranker's candidates are approximate; merged links must still equal its recomputation.
@pytest.mark.parametrize("store_backend", BOTH_STORES)
def test_links_equal_a_recomputation_after_many_writes(fake_services: Services, sample_articles, monkeypatch, store_backend) -> None:  # type: ignore[no-untyped-def]
    merges = []  # lists updated by merging a changed article in (no ranking): this test covers that path
    real = linking_module.merged_links
    monkeypatch.setattr(linking_module, "merged_links", lambda *a: merges.append(result := real(*a)) or result)
    rewrites = []  # ... and by putting a rewritten article's new hit in place of its old one
    real_rewritten = linking_module.rewritten_links
    monkeypatch.setattr(linking_module, "rewritten_links", lambda *a: rewrites.append(result := real_rewritten(*a)) or result)
    services = fake_services
    rng = random.Random(7)
    services.catalog.ingest(sample_articles)
    published: list[Article] = []
    for n in range(120):
        roll = rng.random()
        if published and roll < 0.2:
            victim = published.pop(rng.randrange(len(published)))
            assert services.catalog.delete(victim.id)
        elif published and roll < 0.4:
            index = rng.randrange(len(published))
            published[index] = variant(rng, published[index], published[index].id, sample_articles)
            services.catalog.ingest([published[index]])
        else:
            published.append(variant(rng, rng.choice(sample_articles), f"gen-{n:03d}", sample_articles))
            services.catalog.ingest([published[-1]])
        if n % 40 == 39:
            result = services.linking.verify()
            assert result.ok, result.examples
    result = services.linking.verify()
    assert services.holder.snapshot().ranker.exhaustive == (store_backend == "sqlite")
    assert sum(m is not None for m in merges) > 50 and None in merges  # both the merge and its fallback ran
    assert sum(r is not None for r in rewrites) > 10 and None in rewrites, (len(rewrites), rewrites.count(None))
    assert result.checked == result.questions > 300
    assert result.links_differ == 0 and result.answers_differ == 0, result.examples


def test_verify_reports_a_tampered_link_and_the_cli_exits_1(settings: Settings, sample_articles, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    services = Services.start(settings, encoder=HashingEncoder())
    try:
        services.catalog.ingest(sample_articles[:20])
        assert services.linking.verify().ok
        question = next(q for q in services.holder.snapshot().questions if services.store.links_of([q.id])[q.id])
        wrong = next(a for a in services.holder.snapshot().articles if a != question.article_id and a not in
                     {link.article_id for link in services.store.links_of([question.id])[question.id]})
        services.store.replace_links({question.id: [LinkRow(question.id, 0, wrong, 0.99, 0.99, 0.0, 0)]})
        result = services.linking.verify()
        assert result.links_differ == 1 and result.examples[0].question_id == question.id
        assert result.examples[0].stored == [(wrong, 0.99)]
    finally:
        services.close()
    monkeypatch.setenv("RECOMMENDER_DB", str(settings.db))
    if settings.database_url:  # the command reads the same store the services wrote
        monkeypatch.setenv("RECOMMENDER_DATABASE_URL", settings.database_url)
    monkeypatch.setattr(cli.context, "load_encoder", lambda settings, name: HashingEncoder())
    runner = CliRunner()
    outcome = runner.invoke(cli.app, ["verify"])
    assert outcome.exit_code == 1, outcome.output
    assert "1 with links that differ" in outcome.output and question.id in outcome.output
    assert runner.invoke(cli.app, ["verify", "--sample", "5", "--json"]).exit_code in (0, 1)



def test_scores_are_compared_within_float_rounding_not_by_their_rounded_digits(fake_services: Services, sample_articles) -> None:  # type: ignore[no-untyped-def]
    """Two sums of the same products in another order (numpy's, pgvector's) can differ in the last bits
    and straddle a rounding boundary: that is no difference. A real change of score is."""
    link = LinkRow("q", 0, "a", 0.12344999, 0.5, 0.1, 0)
    twin = LinkRow("q", 0, "a", 0.12345001, 0.5, 0.1, 0)
    assert round(link.score, verify_module.SCORE_PLACES) != round(twin.score, verify_module.SCORE_PLACES)
    assert verify_module._same([link], [twin])
    services = fake_services
    services.catalog.ingest(sample_articles[:20])
    question = next(q for q in services.holder.snapshot().questions if services.store.links_of([q.id])[q.id])
    links = services.store.links_of([question.id])[question.id]
    for shift, ok in ((3e-6, True), (1e-3, False)):
        services.store.replace_links(
            {question.id: [LinkRow(r.question_id, r.rank, r.article_id, r.score + shift, r.dense, r.lexical, r.passage) for r in links]}
        )
        assert services.linking.verify().ok == ok


def test_no_rewritten_article_is_merged_while_other_questions_wait_for_linking(fake_services: Services, sample_articles, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Questions marked for another reason (a re-encode, `relink --all`, a crash) may hold stale scores
    throughout: a write then ranks every pending question again instead of merging."""
    calls = []
    real = linking_module.rewritten_links
    monkeypatch.setattr(linking_module, "rewritten_links", lambda *a: calls.append(1) or real(*a))
    services = fake_services
    services.catalog.ingest(sample_articles)
    linked = next(a for a in sample_articles if services.store.links_to(a.id, float("-inf")))
    rewrite = linked.model_copy(update={"summary": linked.summary + " Updated with new figures."})
    services.catalog.ingest([rewrite])
    assert calls  # the usual path: the questions linking to it are updated from its new hit
    calls.clear()
    everything = [q.id for q in services.holder.snapshot().questions]
    services.holder.write(lambda: services.store.mark_for_linking(everything))
    services.catalog.ingest([rewrite.model_copy(update={"summary": rewrite.summary + " Again."})])
    assert not calls and not services.store.questions_to_link()
    assert services.linking.verify().ok
