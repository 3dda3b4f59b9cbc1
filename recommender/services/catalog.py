"""Writing fact checks: ingest (add or update), delete, restore a backup; each relinks what it affects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from recommender.articles.model import Article
from recommender.config import Settings
from recommender.embedding.passages import article_passages
from recommender.index.holder import IndexHolder
from recommender.services.linking import LinkingService
from recommender.store.base import Dump, Restore, Store
from recommender.domain import StoredArticle


@dataclass(frozen=True)
class IngestReport:
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    relinked: int


class CatalogService:
    def __init__(self, settings: Settings, store: Store, holder: IndexHolder, linking: LinkingService) -> None:
        self.settings = settings
        self.store = store
        self.holder = holder
        self.linking = linking

    def ingest(self, articles: Sequence[Article], progress: bool = False) -> IngestReport:
        """Store new and changed articles, then relink what they affect.

        Articles are embedded and stored in batches of `ingest_batch_size`, one transaction each:
        every article is either fully old or fully new, a crash loses at most the batch in progress,
        and running the same ingest again completes the rest (stored ones are unchanged by hash).
        Each batch's ids are recorded as pending in its own transaction, so the questions it may
        now answer are relinked even if the process dies before relinking (see LinkingService.relink).
        """
        with self.holder.write_lock:
            hashes = self.holder.stored_hashes([a.id for a in articles])
            added, updated, unchanged = [], [], []
            changed: list[tuple[Article, str]] = []
            for article in articles:
                digest = article.content_hash()
                old = hashes.get(article.id)
                if old == digest:
                    unchanged.append(article.id)
                    continue
                (updated if old else added).append(article.id)
                changed.append((article, digest))
            size = self.settings.ingest_batch_size
            for start in range(0, len(changed), size):
                items = self._embed(changed[start : start + size], progress)
                self.holder.write(lambda: self.store.upsert(items), written=items)
            relinked = self.linking.relink_locked({a.id for a, _ in changed})
        return IngestReport(added, updated, unchanged, relinked)

    def delete(self, article_id: str) -> bool:
        """Delete a fact check and relink the questions it answered; False when there was none."""
        with self.holder.write_lock:
            deleted = self.holder.write(lambda: self.store.delete_article(article_id), deleted=[article_id])
            if deleted:
                self.linking.relink_locked(set())
        return deleted

    def restore(self, dump: Dump, replace: bool = False, progress: bool = False) -> int:
        """Write a backup in one transaction (articles embedded with this encoder, the editorial record
        as it was), then link every question; returns how many were linked. See backup.py."""
        with self.holder.write_lock:
            items = self._embed([(a, a.content_hash()) for a in dump.articles], progress) if dump.articles else []
            self.store.restore(Restore(items, dump.decisions, dump.audit, dump.editors, dump.superseded), replace)
            return self.linking.relink_locked(set())

    def is_empty(self) -> bool:
        """No articles, decisions, audit entries or editors: what `import` may fill without --force."""
        store = self.store
        return (
            store.counts()["articles"] == 0
            and not store.all_decisions()
            and store.audit_entries(limit=1)[0] == 0
            and not store.editor_records()
        )

    def _embed(self, changed: list[tuple[Article, str]], progress: bool) -> list[StoredArticle]:
        """Passages and questions of the articles with their vectors (a passage text already stored is
        not encoded again)."""
        encoder = self.holder.encoder
        split = [article_passages(a, encoder.count_tokens, encoder.max_tokens) or [a.title] for a, _ in changed]
        texts = sorted({p for passages in split for p in passages})
        known = self.store.passage_vectors_by_text(texts)
        missing = [t for t in texts if t not in known]
        questions = [q for a, _ in changed for q in a.questions]
        bar = tqdm(total=len(missing) + len(questions), desc="embedding", unit="text", disable=not progress)
        for start in range(0, len(missing), 64):
            batch = missing[start : start + 64]
            known.update(zip(batch, encoder.encode(batch)))
            bar.update(len(batch))
        question_vectors = encoder.encode(questions) if questions else np.zeros((0, encoder.dim), np.float32)
        bar.update(len(questions))
        bar.close()
        items, offset = [], 0
        for (article, digest), passages in zip(changed, split):
            count = len(article.questions)
            items.append(
                StoredArticle(
                    article=article,
                    content_hash=digest,
                    passages=passages,
                    passage_vectors=np.stack([known[p] for p in passages]),
                    question_vectors=question_vectors[offset : offset + count],
                )
            )
            offset += count
        return items
