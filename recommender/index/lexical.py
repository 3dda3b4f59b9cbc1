"""BM25 over whole documents (bm25s, English stop words, Snowball stemming)."""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np
import Stemmer
from bm25s.tokenization import Tokenizer


class LexicalIndex:
    def __init__(self, texts: Sequence[str]) -> None:
        self._tokenizer = Tokenizer(stopwords="en", stemmer=Stemmer.Stemmer("english"))
        self.size = len(texts)
        self._bm25 = bm25s.BM25()
        if texts:
            ids = self._tokenizer.tokenize(list(texts), show_progress=False, return_as="ids")
            self._bm25.index((ids, self._tokenizer.get_vocab_dict()), show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """(documents,) BM25 score of each document for `query`; zeros when nothing matches."""
        if self.size == 0:
            return np.zeros(0, dtype=np.float32)
        ids = self._tokenizer.tokenize([query], update_vocab=False, show_progress=False, return_as="ids")[0]
        ids = [i for i in ids if i != 0]  # 0 is bm25s's empty token
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)
