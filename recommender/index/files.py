"""The index files: a full build saved beside the SQLite database and memory-mapped on the next open.

A full build of 100k articles reads 800k vector blobs and tokenises every article again; the files
hold what that produces (int8 vector codes and scales, passage offsets, BM25 postings and lengths,
the questions' token ids and term pairs as `.npy`, the tokenizer's vocabulary as bm25s saves it, JSON; no pickle),
so opening maps them instead: the pages are read on first use and shared by every worker of the
machine. Rows added by upserts stay in memory (index/vectors.py); the next full build or
compaction writes a new set.

A set is valid for exactly one content: its folder and its meta.json carry a fingerprint of the model,
the ranking settings that shape the files, and every article (id, content hash) and question (id,
position, text, key) in index order, taken from the rows the store returns with them. A set made for
other content (stale after another process wrote, or copied from another database) is never served:
another fingerprint, another folder, so it is rebuilt. Link writes move the store's generation but
not the content, so they do not make the files stale. Every file's shape, dtype and CRC-32 are in
meta.json and checked on open: a damaged file is rebuilt, never served. A set is written to a
temporary folder and renamed into place, so readers never see half of one; older sets are removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender.config import Settings
from recommender.embedding.base import Encoder
from recommender.index.article_rows import ArticleRows
from recommender.index.dense import DenseIndex
from recommender.index.layered import Layered
from recommender.index.lexical import LexicalIndex
from recommender.index.proximity import PairPostings
from recommender.index.questions import QuestionTable
from recommender.index.ranker import Ranker, RankerConfig
from recommender.index.snapshot import Snapshot
from recommender.index.vectors import VectorRows
from recommender.store.base import IndexData
from recommender.store.vectors import Int8Rows

log = logging.getLogger(__name__)

FORMAT = 3  # 2: term positions for proximity (index/proximity.py); 3: the questions' term pairs
META = "meta.json"
TEMPORARY = ".tmp-"
ABANDONED_SECONDS = 3600  # a temporary folder this old belongs to a writer that died


class StaleFiles(ValueError):
    """The files on disk are not those of the store's content (or are damaged)."""


def fingerprint(data: IndexData, model_id: str, config: RankerConfig) -> str:
    """What a set of files is valid for: the model, settings and indexed rows, in index order."""
    digest = hashlib.sha256()
    digest.update(f"{FORMAT}\n{model_id}\n{config.method}\n{config.clean_queries}\n{config.proximity}\n".encode())
    digest.update("\n".join(f"{a.id}\t{a.content_hash}" for a in data.articles).encode())
    digest.update(b"\n--\n")
    digest.update("\n".join(f"{q.id}\t{q.article_id}\t{q.position}\t{q.text}\t{q.key}" for q in data.questions).encode())
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class IndexFiles:
    root: Path  # holds one folder per set, named by its fingerprint

    @classmethod
    def beside(cls, db: Path) -> IndexFiles:
        return cls(db.with_name(db.name + ".index"))

    def load(self, rows: IndexData, encoder: Encoder, config: RankerConfig) -> Snapshot | None:
        """The snapshot of `rows` (articles and questions, no vectors) from its files; None when there is
        no valid set for exactly this content (missing, stale, foreign or damaged)."""
        digest = fingerprint(rows, encoder.model_id, config)
        folder = self.root / digest
        if not folder.is_dir():
            return None
        try:
            return _open(folder, digest, rows, encoder, config)
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("index files in %s not used (%s): rebuilding them", folder, error)
            self._discard(folder)  # out of the way of the set the rebuild saves
            return None

    def save(self, snapshot: Snapshot, data: IndexData, encoder: Encoder, config: RankerConfig) -> Path:
        """Write a freshly built snapshot's files (atomically: a temporary folder renamed into place)."""
        digest = fingerprint(data, encoder.model_id, config)
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.root / f"{TEMPORARY}{os.getpid()}-{uuid.uuid4().hex}"
        temporary.mkdir()
        try:
            specs = {name: _write(temporary / f"{name}.npy", array) for name, array in _arrays(snapshot).items()}
            if snapshot.ranker.lexical is not None:
                snapshot.ranker.lexical.save_vocab(temporary)
            meta = {
                "format": FORMAT,
                "fingerprint": digest,
                "generation": data.generation,
                "model_id": encoder.model_id,
                "articles": len(data.articles),
                "questions": len(data.questions),
                "question_digest": str(snapshot.table.digest),
                "files": specs,
            }
            (temporary / META).write_text(json.dumps(meta, indent=1))
            folder = self.root / digest
            try:
                temporary.rename(folder)
            except OSError:  # another process saved the same content first: theirs is as good
                if not (folder / META).exists():
                    raise
                shutil.rmtree(temporary, ignore_errors=True)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        self._prune(keep=digest)
        return folder

    def _discard(self, folder: Path) -> None:
        trash = self.root / f"{TEMPORARY}damaged-{uuid.uuid4().hex}"
        try:
            folder.rename(trash)  # atomic: no reader finds half a folder
        except OSError:
            return  # gone already (another process discarded or replaced it)
        shutil.rmtree(trash, ignore_errors=True)

    def _prune(self, keep: str) -> None:
        """Remove sets of older content (a process that mapped one keeps its pages) and abandoned temporaries."""
        for entry in self.root.iterdir():
            if entry.name == keep:
                continue
            if entry.name.startswith(TEMPORARY) and time.time() - entry.stat().st_mtime < ABANDONED_SECONDS:
                continue  # another process is writing it
            shutil.rmtree(entry, ignore_errors=True)

    def size_bytes(self) -> int:
        """Bytes on disk of every set (normally one)."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file()) if self.root.exists() else 0


def _arrays(snapshot: Snapshot) -> dict[str, np.ndarray]:
    dense, lexical, table = snapshot.ranker.dense, snapshot.ranker.lexical, snapshot.table
    arrays: dict[str, np.ndarray] = {
        "questions.codes": _base(table.vectors).codes,
        "questions.scales": _base(table.vectors).scales,
        "questions.token_ids": table.token_ids,
        "questions.token_ends": table.token_ends,
        "questions.pair_keys": _fresh(table.pairs).keys,
        "questions.pair_rows": _fresh(table.pairs).rows,
    }
    if dense is not None:
        arrays |= {"passages.codes": _base(dense.vectors).codes, "passages.scales": _base(dense.vectors).scales}
        arrays["passages.offsets"] = dense.offsets
    if lexical is not None:
        arrays |= {f"lexical.{name}": array for name, array in lexical.arrays().items()}
    return arrays


def _fresh(pairs: PairPostings) -> PairPostings:
    if len(pairs.tail_keys):
        raise ValueError("only a freshly built index is saved (it has appended question pairs)")
    return pairs


def _base(vectors: VectorRows) -> Int8Rows:
    if len(vectors) != len(vectors.base):
        raise ValueError("only a freshly built index is saved (it has appended rows)")
    return vectors.base


def _write(path: Path, array: np.ndarray) -> dict:
    array = np.ascontiguousarray(array)
    np.save(path, array, allow_pickle=False)
    return {"shape": list(array.shape), "dtype": str(array.dtype), "crc32": zlib.crc32(array.data)}


def _read(folder: Path, name: str, spec: dict) -> np.ndarray:
    path = folder / f"{name}.npy"
    empty = 0 in spec["shape"]
    array = np.load(path, mmap_mode=None if empty else "r", allow_pickle=False)
    if list(array.shape) != spec["shape"] or str(array.dtype) != spec["dtype"]:
        raise StaleFiles(f"{path.name} holds {array.dtype}{list(array.shape)}, meta.json says {spec['dtype']}{spec['shape']}")
    array = np.asarray(array)  # a plain ndarray over the mapped pages
    if zlib.crc32(array.data) != spec["crc32"]:
        raise StaleFiles(f"{path.name} is damaged (CRC-32 differs from meta.json)")
    return array


def _open(folder: Path, digest: str, rows: IndexData, encoder: Encoder, config: RankerConfig) -> Snapshot:
    meta = json.loads((folder / META).read_text())
    if meta.get("format") != FORMAT or meta.get("fingerprint") != digest:
        raise StaleFiles(f"meta.json is of format {meta.get('format')}, content {meta.get('fingerprint')}")
    a = {name: _read(folder, name, spec) for name, spec in meta["files"].items()}
    dense = None
    if config.method != "lexical":
        vectors = VectorRows(Int8Rows(a["passages.codes"], a["passages.scales"]))
        dense = DenseIndex.of(vectors, a["passages.offsets"])
    lexical = None
    if config.method != "dense":
        parts = {name[len("lexical."):]: array for name, array in a.items() if name.startswith("lexical.")}
        lexical = LexicalIndex.restored(parts, folder, config.average_length, proximity=config.proximity)
    for part in (dense, lexical):
        if part is not None and part.size != len(rows.articles):
            raise StaleFiles(f"the files index {part.size} articles, the store has {len(rows.articles)}")
    ranker = Ranker([r.id for r in rows.articles], encoder, config, dense=dense, lexical=lexical)
    questions = VectorRows(Int8Rows(a["questions.codes"], a["questions.scales"]))
    question_digest = int(meta["question_digest"])  # of exactly these questions: the fingerprint covers their ids and keys
    empty = np.zeros(0, dtype=np.int64)
    pairs = PairPostings(a["questions.pair_keys"], a["questions.pair_rows"], empty, empty)
    table = QuestionTable.of(
        rows.questions, questions, a["questions.token_ids"], a["questions.token_ends"], question_digest, config.proximity,
        pairs,
    )
    return Snapshot(rows.generation, ranker, Layered(ArticleRows(rows.articles), adopt=True), table)


def index_files(settings: Settings) -> IndexFiles | None:
    """The configured index files: SQLite mode only (PostgreSQL mode shares the database instead)."""
    if settings.database_url:
        return None
    return IndexFiles(settings.index_dir) if settings.index_dir is not None else IndexFiles.beside(settings.db)
