"""The linking service with a fake encoder: links equal a recomputation after every kind of write."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from recommender.config import Settings
from recommender.services import Services
from tests.fakes import HashingEncoder
from tests.services.test_catalog import CORPUS, art


@pytest.fixture()
def services(settings: Settings) -> Iterator[Services]:
    services = Services.start(settings, encoder=HashingEncoder())
    services.catalog.ingest(CORPUS)
    yield services
    services.close()


def test_links_equal_a_recomputation_after_writes_and_deletes(services: Services) -> None:
    services.catalog.ingest([art("tariffs-farmers", "Did tariffs hurt farmers?", "Retaliatory tariffs cut farm exports.", ["Who pays tariffs?"])])
    services.catalog.delete("bananas")
    checked = services.linking.verify()
    assert checked.ok and checked.checked == checked.questions > 0


def test_a_stored_link_changed_behind_its_back_is_found_and_relink_all_repairs_it(services: Services) -> None:
    links = services.store.links_of(["owls-q1"])["owls-q1"]
    services.store.replace_links({"owls-q1": links[1:]})  # the best candidate lost, as a bug would leave it
    assert services.linking.verify().links_differ == 1
    assert services.linking.relink_all() == services.holder.snapshot().table.alive.sum()
    assert services.linking.verify().ok


def test_a_sampled_verify_checks_the_questions_it_is_given(services: Services) -> None:
    links = services.store.links_of(["owls-q1"])["owls-q1"]
    services.store.replace_links({"owls-q1": links[1:]})
    result = services.linking.verify(sample=1, include=["owls-q1"])
    assert result.checked in (1, 2) and result.checked < result.questions
    assert result.links_differ == 1 and result.examples[0].question_id == "owls-q1"


def test_clusters_follow_writes(services: Services) -> None:
    assert services.linking.clusters() == {}
    services.catalog.ingest([art("tariffs-2", "Who pays import tariffs, again?", "Importers pay.", ["Do importers pay tariffs?"])])
    clusters = services.linking.clusters()  # the same wording as owls-q1: one cluster
    assert clusters.get("owls-q1") is not None and clusters.get("owls-q1") == clusters.get("tariffs-2-q1")
    assert [q.id for q in services.linking.cluster_members("owls-q1")] == ["tariffs-2-q1"]


def test_a_process_that_followed_another_ones_writes_updates_the_clusters_without_a_full_clustering(
    services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.linking.recluster_if_needed()  # clusters current, as after any earlier write
    other = Services.open(settings, encoder=HashingEncoder())  # another process: it clusters its own write
    try:
        other.catalog.ingest([art("tariffs-2", "Who pays import tariffs, again?", "Importers pay.", ["Do importers pay tariffs?"])])
        other.linking.relink()  # and a links-only write
    finally:
        other.close()
    monkeypatch.setattr(services.linking, "recluster", lambda *a, **k: pytest.fail("a full clustering"))
    services.catalog.ingest([art("tariffs-3", "Do importers pay the tariffs?", "Importers do.", ["Do importers pay tariffs?"])])
    clusters = services.linking.clusters()
    assert clusters.get("owls-q1") is not None
    assert clusters.get("owls-q1") == clusters.get("tariffs-2-q1") == clusters.get("tariffs-3-q1")
    monkeypatch.undo()
    incremental = services.store.all_clusters()
    services.linking.recluster()
    assert _partition(services.store.all_clusters()) == _partition(incremental)


def test_interleaved_writes_of_two_processes_update_the_clusters_without_a_full_clustering(
    services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.linking.recluster_if_needed()  # clusters current, as after any earlier write
    other = Services.open(settings, encoder=HashingEncoder())  # another worker on the same database
    try:
        other.holder.snapshot()  # its index built, as a serving worker's is
        # This process writes and is still relinking (its clustering not run yet) when the other one
        # writes: the other one follows this write, then clusters both changes.
        with monkeypatch.context() as patch:
            patch.setattr(services.linking, "recluster_if_needed", lambda *a, **k: None)
            services.catalog.ingest([art("tariffs-2", "Who pays import tariffs, again?", "Importers pay.", ["Do importers pay tariffs?"])])
        for process in (services, other):
            monkeypatch.setattr(process.linking, "recluster", lambda *a, **k: pytest.fail("a full clustering"))
        other.catalog.ingest([art("tariffs-3", "Do importers pay the tariffs?", "Importers do.", ["Do importers pay tariffs?"])])
        clusters = other.linking.clusters()
        assert clusters.get("owls-q1") is not None
        assert clusters.get("owls-q1") == clusters.get("tariffs-2-q1") == clusters.get("tariffs-3-q1")
        # This process then finishes (its next write follows the other's first): nothing left to cluster
        # from scratch either.
        services.catalog.ingest([art("tariffs-4", "Are tariffs paid by importers?", "Importers pay.", ["Who pays the tariffs?"])])
        services.linking.relink()
    finally:
        other.close()
    monkeypatch.undo()
    incremental = services.store.all_clusters()
    services.linking.recluster()
    assert _partition(services.store.all_clusters()) == _partition(incremental)


def test_the_question_history_is_bounded(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import recommender.index.holder as holder_module

    monkeypatch.setattr(holder_module, "HISTORY_KEPT", 2)
    services = Services.start(settings, encoder=HashingEncoder())
    try:
        monkeypatch.setattr(services.linking, "recluster_if_needed", lambda *a, **k: None)  # a worker that never clusters
        for n in range(4):
            services.catalog.ingest([art(f"extra-{n}", f"Question {n}?", "Text.", [f"Follow-up {n}?"])])
        history = services.holder.question_history()
        assert len(history) == 2 and [c.added for _, c in history] == [("extra-2-q1",), ("extra-3-q1",)]
    finally:
        services.close()


def _partition(clusters: dict[str, str]) -> set[frozenset[str]]:
    members: dict[str, set[str]] = {}
    for question, cluster in clusters.items():
        members.setdefault(cluster, set()).add(question)
    return {frozenset(m) for m in members.values()}


def test_warming_up_reads_the_candidate_floors_so_the_first_write_does_not(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    real = services.store.last_candidate_scores
    monkeypatch.setattr(services.store, "last_candidate_scores", lambda: reads.append(1) or real())
    services.holder._floors = None  # as after a start: nothing read yet
    services.warm_up_in_background().join(timeout=30)
    assert reads == [1]
    services.catalog.ingest([art("tariffs-3", "Do tariffs raise prices?", "Importers pass tariffs on.", ["Who pays tariffs?"])])
    assert reads == [1]  # carried over the write, not read again
    assert services.linking.verify().ok


def test_the_duplicate_search_reuses_the_relinking_pass_over_the_question_rows(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    import recommender.services.linking as linking_module
    from recommender.linking.duplicates import update_clusters

    if services.settings.database_url:
        pytest.skip("ranking inside PostgreSQL bounds the question rows first (linker._bounds): no products to reuse")

    services.linking.recluster_if_needed()  # clusters current, as after any earlier write
    given: list[np.ndarray | None] = []

    def spy(table, changes, threshold, products=None):  # type: ignore[no-untyped-def]
        given.append(products)
        found = update_clusters(table, changes, threshold, products)
        assert found == update_clusters(table, changes, threshold)  # the same as making its own product
        return found

    monkeypatch.setattr(linking_module, "update_clusters", spy)
    services.catalog.ingest([art("tariffs-4", "Who pays import tariffs, again?", "Importers pay.", ["Do importers pay tariffs?"])])
    assert len(given) == 1 and given[0] is not None
    assert given[0].shape == (len(services.holder.snapshot().table), 1)  # every question row x the one new question
    incremental = services.linking.clusters()
    assert incremental.get("tariffs-4-q1") is not None and incremental["tariffs-4-q1"] == incremental.get("owls-q1")
    assert services.linking.recluster() == services.store.all_clusters() == incremental


def test_links_follow_a_change_of_ranking_settings_at_the_next_start(settings: Settings) -> None:
    first = Services.start(settings, encoder=HashingEncoder())
    first.catalog.ingest(CORPUS)
    before = first.store.links_of(["owls-q1"])["owls-q1"]
    first.close()
    changed = settings.model_copy(update={"dense_weight": 0.2, "proximity_window": 0})
    again = Services.start(changed, encoder=HashingEncoder())
    try:
        after = again.store.links_of(["owls-q1"])["owls-q1"]
        assert [round(r.score, 6) for r in after] != [round(r.score, 6) for r in before]
        assert again.linking.verify().ok  # equal to a recomputation under the new settings
        assert again.store.link_settings() == again.linking.link_settings()
        assert '"dense_weight": 0.2' in again.store.link_settings()
        assert again.linking.relink_if_settings_changed() == 0  # recorded: the next start relinks nothing
        assert again.store.questions_to_link() == []
    finally:
        again.close()


def test_links_stored_without_their_settings_are_recomputed_and_a_crash_mid_relink_is_finished(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Services.start(settings, encoder=HashingEncoder())
    first.catalog.ingest(CORPUS)
    with first.store._write() as conn:  # as a version that did not record them left the database
        first.store._exec(conn, "DELETE FROM meta WHERE key = 'link_settings'")
    first.store.replace_links({"owls-q1": first.store.links_of(["owls-q1"])["owls-q1"][1:]})
    questions = len(first.store.best_links())
    first.close()
    crashing = Services.open(settings, encoder=HashingEncoder())
    monkeypatch.setattr(crashing.linking, "relink_locked", lambda changed: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        crashing.startup()
    assert len(crashing.store.questions_to_link()) == questions  # marked with the settings, in one transaction
    crashing.close()
    again = Services.start(settings, encoder=HashingEncoder())
    try:
        assert again.store.questions_to_link() == []
        assert again.linking.verify().ok
    finally:
        again.close()
