"""The `recommender` command: every command in one table, in the order `--help` lists them.

Configuration comes from RECOMMENDER_* variables (see config.py). Each command group lives in its own
module; they open what they work on with cli/context.py and leave known errors to cli/errors.py.
"""

from __future__ import annotations

from typing import Any

import typer
import typer.core

from recommender.cli import calibration, catalog, evaluate, linking, models, reading, serve, training
from recommender.cli.editors import editors_app
from recommender.cli.errors import reported
from recommender.config import Settings
from recommender.store.factory import describe_store


def where_the_data_is() -> str:
    """For --help: the database and models folder these settings use, as absolute paths."""
    try:
        settings = Settings()
    except ValueError:  # a bad RECOMMENDER_* value: the command itself reports it
        return "Data: RECOMMENDER_DB or RECOMMENDER_DATABASE_URL; models: RECOMMENDER_MODELS_DIR (docs/operations.md)."
    if settings.database_url:
        data = f"Database: {describe_store(settings)} (RECOMMENDER_DATABASE_URL)."
    else:
        data = (
            f"Database: {settings.db.absolute()} (RECOMMENDER_DB, default var/recommender.db; a relative path is "
            "taken from the current directory; RECOMMENDER_DATABASE_URL for PostgreSQL)."
        )
    return f"{data} Models: {settings.models_dir.absolute()} (RECOMMENDER_MODELS_DIR). Settings: docs/operations.md."


class _Group(typer.core.TyperGroup):
    """The top-level group: its help ends with where the data is (computed when shown), and every
    command runs inside `reported()`, so a known error is a message and exit code 1, not a traceback."""

    def format_help(self, ctx, formatter):  # type: ignore[no-untyped-def]
        self.epilog = where_the_data_is()
        super().format_help(ctx, formatter)

    def invoke(self, ctx: Any) -> Any:
        with reported():
            return super().invoke(ctx)


app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="dive-deeper: related questions for fact checks.", cls=_Group
)

app.command()(catalog.ingest)
app.command()(reading.suggest)
app.command()(reading.links)
app.command()(reading.gaps)
app.command()(evaluate.evaluate)
app.command()(training.train)
app.command()(calibration.calibrate)
app.command()(linking.clusters)
app.command()(models.reindex)
app.command("export")(catalog.export_cmd)
app.command("import")(catalog.import_cmd)
app.command()(serve.serve)
app.command()(models.reembed)
app.command()(catalog.watch)
app.command()(linking.status)
app.command()(linking.verify)
app.command()(linking.relink)
app.add_typer(editors_app, name="editors")
app.add_typer(models.models_app, name="models")


def main() -> None:
    """The console script (pyproject.toml) and `python -m recommender.cli`."""
    app()
