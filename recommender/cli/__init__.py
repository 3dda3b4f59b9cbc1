"""The `recommender` command, one module per command group (see app.py for the list)."""

from recommender.cli.app import app, main

__all__ = ["app", "main"]
