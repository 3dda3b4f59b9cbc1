"""`recommender editors`: tokens for the review page and the publishing system (no model loaded)."""

from __future__ import annotations

from typing import Annotated

import typer

from recommender.cli import context
from recommender.cli.errors import fail
from recommender.config import Settings

editors_app = typer.Typer(no_args_is_help=True, help="Editor tokens (stored hashed; a token is shown once, at creation).")


@editors_app.command("add")
def editors_add(
    name: Annotated[str, typer.Argument(help="Editor name, e.g. alice, or publisher for the CMS.")],
    role: Annotated[
        str,
        typer.Option(
            help="publisher (PUT/DELETE articles: the publishing system), editor (review, decisions, audit) "
            "or admin (models, editors, thresholds, and all of the others)."
        ),
    ] = "editor",
) -> None:
    """Create an editor (or renew a revoked one) with a role and print the new token once, on stdout."""
    from recommender.editorial.auth import hash_token, name_problem, new_token
    from recommender.domain import ROLES

    problem = name_problem(name)
    if problem:
        fail(problem)
    if role not in ROLES:
        fail(f"role {role!r} is not one of {', '.join(ROLES)}")
    token = new_token()
    with context.opened_store(Settings()) as store:
        try:
            store.add_editor(name, hash_token(token), role)  # type: ignore[arg-type]  # checked against ROLES
        except ValueError as exc:  # e.g. an active token already
            fail(str(exc))
    typer.echo(f"token for {name!r}, role {role} (shown only now; send it as 'Authorization: Bearer <token>'):", err=True)
    typer.echo(token)


@editors_app.command("revoke")
def editors_revoke(name: Annotated[str, typer.Argument(help="Editor name.")]) -> None:
    """Revoke an editor's token at once (its requests then get 403)."""
    with context.opened_store(Settings()) as store:
        revoked = store.revoke_editor(name)
    if not revoked:
        fail(f"no active editor named {name!r}")
    typer.echo(f"revoked the token of {name!r}")


@editors_app.command("list")
def editors_list() -> None:
    """Editors with their role and when their token was created and revoked (never the tokens)."""
    with context.opened_store(Settings()) as store:
        records = store.editor_records()
    if not records:
        typer.echo("no editors yet: recommender editors add NAME")
    for record in records:
        editor = record.editor
        state = f"revoked {editor.revoked_at}" if editor.revoked_at else "active"
        typer.echo(f"{editor.name}\t{editor.role}\tcreated {editor.created_at}\t{state}")
