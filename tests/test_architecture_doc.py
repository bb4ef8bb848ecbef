"""ARCHITECTURE.md embeds the graph drawn from the compiled graph; a stale drawing fails here.

Regenerate with: UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_architecture_doc.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from graph.builder import graph

DOC = Path(__file__).parent.parent / "ARCHITECTURE.md"
BLOCK = re.compile(r"(<!-- graph:begin -->\n```mermaid\n)(.*?)(```\n<!-- graph:end -->)", re.DOTALL)


def test_architecture_drawing_matches_the_compiled_graph() -> None:
    drawing = graph.get_graph().draw_mermaid()
    text = DOC.read_text(encoding="utf-8")
    match = BLOCK.search(text)
    assert match, "ARCHITECTURE.md has no <!-- graph:begin --> mermaid block"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        DOC.write_text(text[: match.start(2)] + drawing + text[match.end(2) :], encoding="utf-8")
        return
    assert match.group(2) == drawing, (
        "ARCHITECTURE.md's graph is stale: regenerate it (see this module's docstring)"
    )
