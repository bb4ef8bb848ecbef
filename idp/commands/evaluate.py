"""``idp eval``: run scenario cases through the graph, score them, gate on the pass rate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from idp import exit_codes


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)


def evaluate(
    cases: Annotated[Path, typer.Option("--cases", help="Folder of case folders (FORMAT.md layout).")] = Path(
        "evals/cases"
    ),
    report_file: Annotated[Path | None, typer.Option("--report", help="Write the JSON report here.")] = None,
    min_pass: Annotated[
        float, typer.Option("--min-pass", min=0.0, max=1.0, help="Exit 1 when the pass rate is below this.")
    ] = 0.0,
    via_apiserver: Annotated[
        bool,
        typer.Option(
            "--via-apiserver", help="Serve each case with the API stand-in and read it with the live client."
        ),
    ] = False,
    only: Annotated[str | None, typer.Option("--only", help="Run only cases whose id contains this.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report instead of tables.")] = False,
) -> None:
    """Score each case as FORMAT.md says; print per-case and per-category tables; write a JSON report."""
    from rich.console import Console
    from rich.table import Table

    from evals.cases import CaseError, load_cases
    from evals.runner import apiserver_reader, report, run_case, snapshot_reader
    from graph.context import Deps
    from graph.llm import build_model
    from graph.tracing import flush_traces
    from idp.settings import Settings
    from runbooks.index import build_index
    from tools.sources import NoClusterReader

    console = Console(stderr=as_json)
    try:
        selected = [c for c in load_cases(cases) if not only or only in c.id]
    except CaseError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(exit_codes.BAD_INPUT) from None
    if not selected:
        console.print(f"[red]error:[/red] no cases found in {cases}")
        raise typer.Exit(exit_codes.BAD_INPUT)

    settings = Settings()
    base = Deps(
        reader=NoClusterReader(),
        runbooks=build_index(settings),
        model=build_model(settings),
        settings=settings,
    )
    reader_for = apiserver_reader if via_apiserver else snapshot_reader
    results = [run_case(case, base, reader_for) for case in selected]
    doc = report(results)

    if as_json:
        typer.echo(json.dumps(doc, indent=2))
    else:
        table = Table(
            title=f"idp eval: {cases} ({'API stand-in + live client' if via_apiserver else 'snapshots'})"
        )
        for column in ("case", "expected", "got", "checks failed", "reqs", "loops", "ms"):
            table.add_column(column)
        for r in results:
            failed = ", ".join(k for k, v in r.checks.items() if not v)
            if r.missing:
                failed += f" ({'; '.join(r.missing)})"
            style = "green" if r.passed else "red"
            table.add_row(
                f"[{style}]{r.id}[/{style}]",
                r.expected_category,
                r.category,
                failed or "-",
                str(r.api_requests),
                str(r.loops),
                f"{r.elapsed_ms:.0f}",
            )
        console.print(table)
        cats = Table(title="by category")
        for column in ("category", "passed", "total"):
            cats.add_column(column)
        for category, row in sorted(doc["by_category"].items()):
            cats.add_row(category, str(row["passed"]), str(row["total"]))
        console.print(cats)
        console.print(f"pass rate {doc['pass_rate']:.1%} ({doc['passed']}/{doc['total']})")
    if settings.langsmith_api_key is not None:
        _log_experiment(console, results, selected, settings)
    flush_traces(settings)
    if report_file is not None:
        report_file.parent.mkdir(parents=True, exist_ok=True)
        report_file.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    if doc["pass_rate"] < min_pass:
        console.print(f"[red]pass rate {doc['pass_rate']:.1%} is below --min-pass {min_pass:.1%}[/red]")
        raise typer.Exit(exit_codes.FAILED_GATE)


def _log_experiment(console: Any, results: list[Any], cases: list[Any], settings: Any) -> None:
    """LangSmith experiment when a key is set; a failure to log never changes the eval's outcome."""
    from evals.runner import log_experiment

    try:
        name = log_experiment(results, cases, settings)
    except Exception as exc:  # noqa: BLE001 - the eval's result stands whatever LangSmith answers
        console.print(f"[yellow]LangSmith experiment not logged: {type(exc).__name__}: {exc}[/yellow]")
        return
    console.print(f"LangSmith experiment: {name}")
