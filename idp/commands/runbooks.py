"""``idp runbooks``: build the runbook index and search it from the terminal."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from idp import exit_codes

if TYPE_CHECKING:
    from idp.settings import Settings
    from runbooks.index import RunbookIndex

runbooks_app = typer.Typer(
    help="Runbook library: build the search index, search it.", no_args_is_help=True, add_completion=False
)

DirsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--dir",
        help="Extra runbook folder (repeatable); added to IDP_RUNBOOKS_DIRS and the built-in library.",
        exists=True,
        file_okay=False,
        dir_okay=True,
    ),
]


def register(app: typer.Typer) -> None:
    """Add ``idp runbooks`` to ``app``."""
    app.add_typer(runbooks_app, name="runbooks")


def _settings(dirs: list[Path] | None) -> Settings:
    from idp.settings import Settings

    settings = Settings()  # type: ignore[call-arg]  # pydantic-settings fills fields from the env
    if dirs:
        settings = settings.model_copy(update={"runbooks_dirs": [*settings.runbooks_dirs, *dirs]})
    return settings


def _open_index(settings: Settings) -> RunbookIndex:
    from runbooks.index import build_index

    expected: tuple[type[BaseException], ...] = (OSError, RuntimeError, ValueError)
    if settings.weaviate_url:
        from weaviate.exceptions import WeaviateBaseError

        expected = (*expected, WeaviateBaseError)
    try:
        return build_index(settings)
    except expected as exc:
        typer.echo(f"error: cannot open the runbook index: {exc}", err=True)
        raise typer.Exit(exit_codes.BAD_INPUT) from None


def _close(index: Any) -> None:
    close = getattr(index, "close", None)
    if callable(close):
        close()


@runbooks_app.command("index")
def index_command(dirs: DirsOption = None) -> None:
    """Build (or reuse) the runbook index and persist it; prints how many runbooks and how long it took."""
    settings = _settings(dirs)
    started = time.perf_counter()
    index = _open_index(settings)
    elapsed = time.perf_counter() - started
    try:
        backend = type(index).__name__
        reused = " (reused the persisted index)" if getattr(index, "from_cache", False) else ""
        where = settings.weaviate_url or str(settings.data_dir / "runbook-index")
        typer.echo(f"indexed {len(index)} runbooks in {elapsed:.3f}s with {backend} at {where}{reused}")
        written, removed = getattr(index, "written", None), getattr(index, "removed", None)
        if written is not None:
            typer.echo(f"weaviate objects written {written}, removed {removed}; unchanged runbooks were kept")
        if not index.ready:
            typer.echo("error: the index is empty: no runbooks were found", err=True)
            raise typer.Exit(exit_codes.BAD_INPUT)
    finally:
        _close(index)


@runbooks_app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="Error text or keywords.")],
    top: Annotated[int, typer.Option("--top", "-k", min=1, max=50, help="How many runbooks to return.")] = 3,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print a JSON list of {"id", "title", "score", "section"}.')
    ] = False,
    dirs: DirsOption = None,
) -> None:
    """Search the runbooks for an error message or keywords, best match first."""
    from runbooks.suggest import suggest_runbooks

    if not query.strip():
        typer.echo("error: the query is empty", err=True)
        raise typer.Exit(exit_codes.BAD_INPUT)
    index = _open_index(_settings(dirs))
    try:
        hits = suggest_runbooks(index, query, top_k=top)
    finally:
        _close(index)
    if as_json:
        typer.echo(json.dumps([hit.model_dump(include={"id", "title", "score", "section"}) for hit in hits]))
        return
    if not hits:
        typer.echo("no runbook matches")
        return
    for rank, hit in enumerate(hits, start=1):
        section = f"  [{hit.section}]" if hit.section else ""
        typer.echo(f"{rank}. {hit.id}  {hit.score:.3f}  {hit.title}{section}")
