"""The one place where the errors the CLI knows become a message on stderr and exit code 1.

Commands raise (or let through) the library's own exceptions; `reported()` turns them into
`error: ...` lines that name the file and line where the library's message does, instead of a
traceback. Anything not listed here is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

from recommender.config import Settings

EXIT_ERROR = 1


def fail(message: str) -> NoReturn:
    """Print `error: message` on stderr and exit 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_ERROR)


# Known errors whose message is the whole story, by (module, class): looked up in sys.modules, because
# an exception of a class whose module was never imported cannot occur, and importing the modules here
# would load the model code (torch, onnx) for a typo in a file name.
KNOWN: tuple[tuple[str, str], ...] = (
    ("recommender.domain", "StoreUnavailable"),  # e.g. PostgreSQL unreachable
    ("recommender.domain", "EncoderMismatch"),
    ("recommender.embedding.versions", "EncoderUnavailable"),
    ("recommender.embedding.registry", "ModelNotFound"),
    ("recommender.embedding.factory", "BackendUnavailable"),
    ("recommender.embedding.export", "ExportError"),
    ("recommender.evaluation.benchmark", "BenchmarkFormatError"),  # names file:line
    ("recommender.queries", "QueryError"),
    ("recommender.services.retraining", "NotEnoughDecisions"),
    ("recommender.index.backend", "RankingBackendError"),  # RECOMMENDER_RANKING_BACKEND=postgres on SQLite
)


def _is(exc: BaseException, module: str, name: str) -> bool:
    found = getattr(sys.modules.get(module), name, None)
    return isinstance(found, type) and isinstance(exc, found)


def messages(exc: BaseException) -> list[str] | None:
    """The stderr lines for a known error, or None for one the CLI does not know."""
    if _is(exc, "recommender.articles.loader", "LoadErrors"):  # every bad file:line; the batch is refused whole
        errors = exc.errors  # type: ignore[attr-defined]
        return [f"error: {error}" for error in errors] + [f"nothing stored: {len(errors)} problem(s) in the input"]
    if _is(exc, "recommender.backup", "BackupError"):
        return [f"error: {error}" for error in exc.errors] + ["nothing imported"]  # type: ignore[attr-defined]
    if _is(exc, "pydantic", "ValidationError"):  # a bad RECOMMENDER_* value: name the variable
        if exc.title != Settings.__name__:  # type: ignore[attr-defined]
            return None
        return [
            f"error: RECOMMENDER_{'_'.join(str(part) for part in error['loc']).upper()}={error.get('input')!r}: {error['msg']}"
            for error in exc.errors()  # type: ignore[attr-defined]
        ]
    if any(_is(exc, module, name) for module, name in KNOWN):
        return [f"error: {exc}"]
    return None


@contextmanager
def reported() -> Iterator[None]:
    """Known errors inside become their message on stderr and exit code 1."""
    try:
        yield
    except Exception as exc:
        lines = messages(exc)
        if lines is None:
            raise
        for line in lines:
            typer.echo(line, err=True)
        raise typer.Exit(EXIT_ERROR) from None
