"""The ``idp`` console command. Each subcommand lives in :mod:`idp.commands` and registers itself.

Heavy imports (langgraph, the kubernetes client, uvicorn) happen inside the commands, so
``idp --help`` stays fast.
"""

from __future__ import annotations

import typer

from idp.commands import diagnose, evaluate, fake_apiserver, runbooks, serve, snapshot

app = typer.Typer(
    name="idp",
    help="idp-agent: diagnose failing Kubernetes workloads from a pasted error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (diagnose, evaluate, runbooks, serve, snapshot, fake_apiserver):
    module.register(app)


def main() -> None:  # pragma: no cover - console entry point
    app()


@app.command()
def version() -> None:
    """Print the installed idp-agent version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("idp-agent"))


if __name__ == "__main__":  # pragma: no cover - python -m idp.cli
    app()
