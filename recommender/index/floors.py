"""Per question: how many candidates are stored and the lowest stored score, as arrays by table row.

entering_hits compares a changed article's score for every question with these at once. They are
read from the store once (one pass over every link), then carried from snapshot to snapshot with
the links this process writes; the index holder reads them again when another process wrote.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from recommender.index.questions import QuestionTable
from recommender.domain import LinkRow


class CandidateFloors:
    def __init__(self, generation: int, table: QuestionTable, stored: Mapping[str, tuple[int, float]]) -> None:
        self.generation = generation
        self.count = np.zeros(len(table), dtype=np.int32)
        self.lowest = np.full(len(table), -np.inf, dtype=np.float32)
        for question_id, (count, lowest) in stored.items():
            row = table.row_of.get(question_id)
            if row is not None:
                self.count[row], self.lowest[row] = count, lowest

    def carried(self, generation: int, table: QuestionTable) -> CandidateFloors:
        """The floors for a later snapshot whose table appended rows (new questions: nothing stored yet).

        Rows of replaced questions keep their old values; they are dead in the new table.
        """
        new = object.__new__(CandidateFloors)
        new.generation = generation
        extra = len(table) - len(self.count)
        new.count = np.concatenate([self.count, np.zeros(extra, dtype=np.int32)])
        new.lowest = np.concatenate([self.lowest, np.full(extra, -np.inf, dtype=np.float32)])
        return new

    def remember(self, table: QuestionTable, links: Mapping[str, list[LinkRow]]) -> None:
        """Record links just written (in place: only the write lock's holder uses the floors)."""
        for question_id, rows in links.items():
            row = table.row_of.get(question_id)
            if row is not None:
                self.count[row] = len(rows)
                self.lowest[row] = min((r.score for r in rows), default=-np.inf)
