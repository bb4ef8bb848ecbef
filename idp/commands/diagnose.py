"""``idp diagnose``: one diagnosis from the terminal, with live progress per node, or as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from idp import exit_codes

NODE_LABELS = {
    "classify": "classified the error",
    "inspect_cluster": "read the cluster",
    "retrieve_runbooks": "found runbooks",
    "analyze": "analysed the evidence",
    "critique": "checked the draft",
    "finalize": "wrote the diagnosis",
    "answer_followup": "answered from the thread",
}


def register(app: typer.Typer) -> None:
    app.command("diagnose")(diagnose)


def diagnose(
    error_message: Annotated[str, typer.Argument(help="The error text (use - to read it from stdin).")],
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace to inspect.")] = None,
    pod: Annotated[str | None, typer.Option("--pod", help="Pod name, when known.")] = None,
    workload: Annotated[
        str | None, typer.Option("--workload", help="kind/name, e.g. deployment/api.")
    ] = None,
    snapshot: Annotated[
        Path | None, typer.Option("--snapshot", help="Diagnose against a snapshot folder (FORMAT.md layout).")
    ] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="kubeconfig context of a live cluster.")
    ] = None,
    kubeconfig: Annotated[
        str | None, typer.Option("--kubeconfig", help="kubeconfig file (default: KUBECONFIG).")
    ] = None,
    max_loops: Annotated[int, typer.Option("--max-loops", min=0, max=10, help="Critic loops at most.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly the Diagnosis JSON.")] = False,
) -> None:
    """Diagnose a pasted error against a cluster or a snapshot (the bundled demo when neither is given).

    Exit codes: 0 diagnosed; 2 bad input; 3 the cluster could not be read (the text was still diagnosed).
    """
    from pydantic import ValidationError
    from rich.console import Console

    from graph.schemas import DiagnoseRequest
    from idp.settings import ClusterSource, Settings

    err = Console(stderr=True)
    text = sys.stdin.read() if error_message == "-" else error_message
    try:
        request = DiagnoseRequest(error_message=text, namespace=namespace, pod=pod, workload=workload)
    except ValidationError as exc:
        for problem in exc.errors():
            err.print(f"[red]invalid {'.'.join(map(str, problem['loc']))}:[/red] {problem['msg']}")
        raise typer.Exit(exit_codes.BAD_INPUT) from None

    overrides: dict[str, Any] = {}
    if snapshot is not None:
        overrides.update(cluster_source=ClusterSource.SNAPSHOT, snapshot=snapshot)
    elif context is not None or kubeconfig is not None:
        overrides.update(cluster_source=ClusterSource.KUBECONFIG, kube_context=context)
        if kubeconfig:
            overrides["kubeconfig"] = kubeconfig
    settings = Settings(**overrides)

    from langchain_core.runnables import RunnableConfig

    from graph.builder import RECURSION_LIMIT, graph
    from graph.context import Context, build_deps
    from graph.state import InputState
    from graph.tracing import flush_traces, traced_run
    from tools.live import LiveConfigError
    from tools.snapshot import SnapshotError

    try:
        deps = build_deps(settings)
    except (SnapshotError, LiveConfigError) as exc:
        err.print(f"[red]cannot open the cluster source:[/red] {exc}")
        raise typer.Exit(exit_codes.BAD_INPUT) from None

    reachable = deps.reader.ping().ok
    if not reachable:
        err.print(
            f"[yellow]cluster source {deps.reader.description} does not answer; diagnosing from the text[/yellow]"
        )
    run_input = cast("InputState", request.model_dump(exclude_none=True))
    config: RunnableConfig = {"recursion_limit": RECURSION_LIMIT, "run_name": "diagnose"}
    ctx = Context(deps=deps, max_loops=max_loops)
    diagnosis: dict[str, Any] = {}
    with traced_run(settings, dict(run_input)) as trace:
        if as_json or not err.is_terminal:
            diagnosis = graph.invoke(run_input, config, context=ctx)["diagnosis"]
        else:
            with err.status("diagnosing…") as status:
                for update in graph.stream(run_input, config, context=ctx, stream_mode="updates"):
                    for node, values in update.items():
                        err.print(f"  [green]✓[/green] {NODE_LABELS.get(node, node)}{_detail(node, values)}")
                        status.update(f"{NODE_LABELS.get(node, node)}…")
                        if node == "finalize":
                            diagnosis = values["diagnosis"]
        trace.finish(diagnosis)
    flush_traces(settings)

    if as_json:
        typer.echo(json.dumps(diagnosis, indent=2))
    else:
        _render(diagnosis)
    if not reachable:
        raise typer.Exit(exit_codes.CLUSTER_UNREACHABLE)


def _detail(node: str, values: dict[str, Any]) -> str:
    if node == "classify":
        top = [h["category"] for h in values.get("hypotheses", [])[:3]]
        return f": {', '.join(top)}" if top else ""
    if node == "inspect_cluster":
        evidence = values.get("evidence") or {}
        return f": {len(evidence.get('objects', {}))} objects, {len(evidence.get('logs', {}))} logs"
    if node == "retrieve_runbooks":
        return f": {', '.join(r['id'] for r in values.get('runbooks', [])[:3])}"
    if node == "analyze":
        return f": {(values.get('draft') or {}).get('category')}"
    if node == "critique":
        verdict = values.get("verdict") or {}
        return f": {verdict.get('verdict')}" + (
            f" ({len(verdict.get('fetch', []))} more reads)" if verdict.get("fetch") else ""
        )
    return ""


def _render(d: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.panel import Panel

    console = Console()
    console.print(
        Panel(
            d.get("root_cause", ""),
            title=f"[bold]{d.get('category')}[/bold]  confidence {d.get('confidence', 0):.0%}  ({d.get('mode')})",
        )
    )
    sections = [
        ("Evidence", d.get("evidence", [])),
        ("Fix (review before running; nothing was executed)", d.get("fix_commands", [])),
        ("Prevention", d.get("prevention", [])),
        ("Runbooks", [f"{r['id']}  {r['title']}  ({r['score']:.2f})" for r in d.get("runbooks", [])]),
        ("Not checked", [f"{m['what']}: {m['reason']}" for m in d.get("missing_data", [])]),
    ]
    for title, lines in sections:
        if lines:
            console.print(f"\n[bold]{title}[/bold]")
            for line in lines:
                console.print(f"  • {line}", markup=False, highlight=False)
    console.print(
        f"\nfingerprint {d.get('fingerprint')} · {d.get('api_requests')} API requests · "
        f"{d.get('loops')} critic loop(s) · {d.get('timings_ms', {}).get('total', 0):.0f} ms"
    )
