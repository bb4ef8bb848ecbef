"""``idp serve``: the HTTP service (REST for CI, LangServe streams, chat threads, the chat page)."""

from __future__ import annotations

from typing import Annotated

import typer

from idp import exit_codes


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (default IDP_HOST).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on (default IDP_PORT).")] = None,
) -> None:
    """Serve the API and the chat page with uvicorn; settings come from the environment (.env.example)."""
    import uvicorn
    from pydantic import ValidationError

    from idp.settings import Settings
    from server.app import create_app
    from server.logging_setup import configure_logging

    try:
        settings = Settings()  # type: ignore[call-arg]  # pydantic-settings fills fields from the env
    except ValidationError as exc:
        typer.echo(f"invalid settings: {exc}", err=True)
        raise typer.Exit(exit_codes.BAD_INPUT) from exc
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        log_level=settings.log_level.lower(),
        # One process: the thread store and rate limits are per process; scale with replicas.
        workers=1,
        timeout_graceful_shutdown=10,
    )
