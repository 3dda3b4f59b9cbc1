"""Keep the service current from a folder the CMS exports articles into (`recommender watch DIR`).

Polling with (size, mtime) signatures rather than filesystem events: it works the same on network
and container mounts, and a missed event cannot leave an article stale. A file is read only once its
signature is the same on two passes one interval apart, so a file still being written is not
half-read; hidden files (editors' and rsync's temporaries) are ignored. Ingest is idempotent (content
hashes), so reading a file again after a restart or a `touch` stores nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Protocol

from recommender.articles.loader import SUFFIXES, load_file
from recommender.articles.model import Article, ArticleError

log = logging.getLogger(__name__)
Signature = tuple[int, int]  # (size, mtime in ns)


class IngestResult(Protocol):
    """The part of services.IngestReport the watcher reads (structural: this module needs no service)."""

    added: list[str]
    updated: list[str]
    unchanged: list[str]


@dataclass
class PassReport:
    """What one pass over the folder did."""

    read: list[str] = field(default_factory=list)  # files read (new or changed since the last pass that read them)
    added: list[str] = field(default_factory=list)  # article ids
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # article ids deleted (only with delete=True)
    gone: list[str] = field(default_factory=list)  # files that disappeared
    waiting: list[str] = field(default_factory=list)  # files new or changed since the last pass: read once settled
    errors: list[str] = field(default_factory=list)  # "file:line: message", the file skipped

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deleted or self.errors or self.gone)

    def summary(self) -> str:
        return (
            f"{len(self.read)} file(s) read: {len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.deleted)} deleted, {len(self.errors)} error(s)"
        )


@dataclass
class _Handled:
    signature: Signature
    article_ids: tuple[str, ...]


class FolderWatcher:
    """Polls `folder` (recursively) for article files and hands new and changed ones to `ingest`.

    `delete(article_id)` is called for the articles of a file that disappeared only when `delete_missing`
    is set: a CMS export folder that is cleaned out or remounted must not empty the site's index.
    """

    def __init__(
        self,
        folder: Path,
        ingest: Callable[[Sequence[Article]], IngestResult],
        delete: Callable[[str], bool] | None = None,
        max_bytes: int = 1_000_000,
        delete_missing: bool = False,
    ) -> None:
        if delete_missing and delete is None:
            raise ValueError("delete_missing needs a delete callback")
        self.folder = folder
        self._ingest = ingest
        self._delete = delete
        self.max_bytes = max_bytes
        self.delete_missing = delete_missing
        self._seen: dict[Path, Signature] = {}  # signatures of the previous pass
        self._handled: dict[Path, _Handled] = {}  # files read (or rejected) at their signature

    def _files(self) -> dict[Path, Signature]:
        found: dict[Path, Signature] = {}
        for path in self.folder.rglob("*"):
            relative = path.relative_to(self.folder)
            if path.suffix not in SUFFIXES or any(part.startswith(".") for part in relative.parts):
                continue
            try:
                stat = path.stat()
            except OSError:  # removed between listing and stat: it is gone next pass
                continue
            if path.is_file():
                found[path] = (stat.st_size, stat.st_mtime_ns)
        return found

    def poll(self) -> PassReport:
        """One pass: read the files whose signature settled since the last pass and changed since they
        were last read, ingest their articles in one call, and notice files that disappeared."""
        if not self.folder.is_dir():
            raise FileNotFoundError(f"{self.folder}: no such folder")
        report = PassReport()
        current = self._files()
        ready: list[Path] = []
        for path, signature in sorted(current.items()):
            handled = self._handled.get(path)
            if handled is not None and handled.signature == signature:
                continue
            if self._seen.get(path) != signature:
                report.waiting.append(str(path))  # new or still changing: read once it stands still
                continue
            ready.append(path)
        self._seen = current
        articles, sources = self._read(ready, report)
        if articles:
            try:
                result = self._ingest(articles)
            except Exception as exc:  # noqa: BLE001 - keep watching; these files are read again next pass
                log.exception("ingest failed; will retry")
                report.errors.append(f"ingest failed ({exc}); retried next pass")
                for path in {sources[a.id] for a in articles}:
                    self._handled.pop(path, None)
                return report
            report.added, report.updated, report.unchanged = list(result.added), list(result.updated), list(result.unchanged)
        self._forget_missing(current, report)
        return report

    def _read(self, paths: list[Path], report: PassReport) -> tuple[list[Article], dict[str, Path]]:
        articles: list[Article] = []
        sources: dict[str, Path] = {}
        for path in paths:
            signature = self._seen[path]
            report.read.append(str(path))
            try:
                items = load_file(path, self.max_bytes)
            except ArticleError as exc:
                report.errors.extend(str(problem) for problem in exc.problems)
                items = None
            except OSError as exc:
                report.errors.append(f"{path}: cannot read: {exc.strerror}")
                items = None
            if items is None:
                # Rejected at this signature: reported once, read again when the file changes.
                self._handled[path] = _Handled(signature, self._handled[path].article_ids if path in self._handled else ())
                continue
            ids = []
            for item in items:
                other = sources.get(item.article.id)
                if other is not None and other != path:
                    report.errors.append(f"{path}: duplicate article id {item.article.id!r} (also in {other}); skipped")
                    continue
                sources[item.article.id] = path
                articles.append(item.article)
                ids.append(item.article.id)
            self._handled[path] = _Handled(signature, tuple(ids))
        return articles, sources

    def _forget_missing(self, current: dict[Path, Signature], report: PassReport) -> None:
        gone = [path for path in self._handled if path not in current]
        still_served = {a for path, h in self._handled.items() if path in current for a in h.article_ids}
        for path in gone:
            handled = self._handled.pop(path)
            report.gone.append(str(path))
            if not self.delete_missing:
                continue
            assert self._delete is not None
            for article_id in handled.article_ids:
                if article_id not in still_served and self._delete(article_id):  # moved to another file: kept
                    report.deleted.append(article_id)

    def run(self, interval: float, stop: threading.Event, on_pass: Callable[[PassReport], None] | None = None) -> None:
        """Poll every `interval` seconds until `stop` is set. A failing pass is logged, not fatal."""
        while not stop.is_set():
            try:
                report = self.poll()
            except Exception:  # noqa: BLE001 - e.g. the folder is briefly unmounted: try again next interval
                log.exception("watching %s failed; trying again", self.folder)
            else:
                if on_pass is not None:
                    on_pass(report)
            stop.wait(interval)

    def once(self, interval: float) -> PassReport:
        """Two passes one interval apart (the first only records signatures): every settled file is read."""
        first = self.poll()
        threading.Event().wait(interval)
        second = self.poll()
        for name in (f.name for f in fields(PassReport) if f.name != "waiting"):
            getattr(second, name)[:0] = getattr(first, name)
        return second
