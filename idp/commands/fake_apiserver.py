"""`idp fake-apiserver`: serve a snapshot folder as a read-only Kubernetes API on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from idp import exit_codes


def fake_apiserver(
    snapshot_dir: Annotated[Path, typer.Argument(help="A FORMAT.md snapshot folder (cluster.json + logs/).")],
    port: Annotated[
        int, typer.Option(help="Port to listen on (0 picks a free one).", min=0, max=65535)
    ] = 8001,
    host: Annotated[str, typer.Option(help="Address to bind; keep it on loopback.")] = "127.0.0.1",
    latency_ms: Annotated[float, typer.Option(help="Delay added to every request.", min=0)] = 0.0,
    fail_rate: Annotated[
        float, typer.Option(help="Share of resource requests answered 500.", min=0, max=1)
    ] = 0.0,
    drop_rate: Annotated[
        float,
        typer.Option(help="Share of resource requests whose connection is closed unanswered.", min=0, max=1),
    ] = 0.0,
    forbid: Annotated[
        list[str] | None, typer.Option(help="Resource answered 403, e.g. secrets or pods/log (repeatable).")
    ] = None,
    write_kubeconfig: Annotated[
        Path | None, typer.Option(help="Write a kubeconfig pointing at this server to PATH.")
    ] = None,
) -> None:
    """Serve SNAPSHOT_DIR over the Kubernetes REST paths for kubectl and the kubernetes client.

    Only GET is answered; any other verb gets 405 and is logged. Stop with Ctrl-C.
    """
    from tools.fake_apiserver import FakeApiServer, Faults
    from tools.fake_apiserver import write_kubeconfig as write_config
    from tools.snapshot import SnapshotError

    faults = Faults(
        latency_ms=latency_ms, fail_rate=fail_rate, drop_rate=drop_rate, forbid=frozenset(forbid or ())
    )
    try:
        server = FakeApiServer(snapshot_dir, faults=faults, host=host, port=port)
    except SnapshotError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exit_codes.BAD_INPUT) from exc
    try:
        url = server.start()
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc}", err=True)
        raise typer.Exit(exit_codes.BAD_INPUT) from exc
    typer.echo(f"serving {snapshot_dir} at {url} (read-only; Ctrl-C stops)")
    if write_kubeconfig is not None:
        write_config(write_kubeconfig, url)
        typer.echo(
            f"kubeconfig written to {write_kubeconfig}: KUBECONFIG={write_kubeconfig} kubectl get pods -A"
        )
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        refused = [r for r in server.requests if r.method != "GET"]
        typer.echo(f"{len(server.requests)} requests served, {len(refused)} non-GET refused")


def register(app: typer.Typer) -> None:
    """Add this subcommand to ``app``."""
    app.command("fake-apiserver")(fake_apiserver)
