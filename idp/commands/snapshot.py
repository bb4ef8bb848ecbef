"""`idp snapshot`: capture a FORMAT.md snapshot of a live cluster, secrets redacted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from idp import exit_codes


def snapshot(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write cluster.json and logs/ into.")],
    namespace: Annotated[
        list[str] | None, typer.Option("--namespace", "-n", help="Namespace to capture (repeatable).")
    ] = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Capture every namespace.")
    ] = False,
    logs_tail: Annotated[int, typer.Option(help="Log lines kept per container.", min=0)] = 200,
    max_log_pods: Annotated[
        int, typer.Option(help="Pods whose logs are read (failing pods first).", min=0)
    ] = 200,
    context: Annotated[
        str | None, typer.Option(help="kubeconfig context (default: IDP_KUBE_CONTEXT or current).")
    ] = None,
    kubeconfig: Annotated[Path | None, typer.Option(help="kubeconfig file (default: KUBECONFIG).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite a snapshot already in OUT_DIR.")] = False,
) -> None:
    """Read the namespaces' objects, events and log tails from a live cluster into OUT_DIR.

    Secrets are kept as metadata and key names; logs and env values are redacted. The
    cluster is only read (GET), never changed.
    """
    from idp.settings import Settings
    from tools.capture import CaptureError, capture_snapshot
    from tools.live import LiveConfigError, LiveReader

    if bool(namespace) == all_namespaces:
        typer.echo("error: give --namespace NS (one or more) or --all-namespaces", err=True)
        raise typer.Exit(exit_codes.BAD_INPUT)
    settings = Settings()  # type: ignore[call-arg]  # pydantic-settings fills fields from the env
    config_path = str(kubeconfig) if kubeconfig else settings.kubeconfig
    try:
        if settings.in_cluster and not kubeconfig:
            reader = LiveReader.in_cluster(timeout_s=settings.api_timeout_s)
        else:
            reader = LiveReader.from_kubeconfig(
                config_path, context or settings.kube_context, timeout_s=settings.api_timeout_s
            )
    except LiveConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exit_codes.BAD_INPUT) from exc
    try:
        report = capture_snapshot(
            reader,
            out_dir,
            namespaces=None if all_namespaces else namespace,
            logs_tail=logs_tail,
            max_log_pods=max_log_pods,
            overwrite=force,
        )
    except CaptureError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exit_codes.CLUSTER_UNREACHABLE) from exc
    finally:
        reader.close()
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.objects.items()))
    typer.echo(f"wrote {out_dir}: {sum(report.objects.values())} objects ({kinds}), {report.logs} logs")
    for problem in report.problems:
        typer.echo(f"  not captured: {problem}", err=True)


def register(app: typer.Typer) -> None:
    """Add this subcommand to ``app``."""
    app.command("snapshot")(snapshot)
