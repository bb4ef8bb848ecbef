"""`idp fake-apiserver` (placeholder until its issue lands)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this subcommand to ``app``."""
    _ = app
