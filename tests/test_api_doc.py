"""docs/API.md against the OpenAPI document: every route documented, every documented route real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from idp.settings import Settings
from server.app import create_app

DOC = Path(__file__).parent.parent / "docs" / "API.md"
HEADING = re.compile(r"^### (.+)$", re.MULTILINE)
ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`]*)`")


def _documented() -> set[tuple[str, str]]:
    routes = set()
    for heading in HEADING.findall(DOC.read_text(encoding="utf-8")):
        routes |= {(method.lower(), path) for method, path in ROUTE.findall(heading)}
    return routes


@pytest.fixture(scope="module")
def openapi_routes(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    spec = create_app(settings).openapi()
    return {(method, path) for path, ops in spec["paths"].items() for method in ops}


def test_every_route_is_documented(openapi_routes: set[tuple[str, str]]) -> None:
    missing = openapi_routes - _documented()
    assert not missing, f"routes missing from docs/API.md: {sorted(missing)}"


def test_every_documented_route_exists(openapi_routes: set[tuple[str, str]]) -> None:
    stale = _documented() - openapi_routes
    assert not stale, f"docs/API.md documents routes the service does not have: {sorted(stale)}"


def test_every_documented_route_has_a_curl_example() -> None:
    text = DOC.read_text(encoding="utf-8")
    sections = re.split(r"^### ", text, flags=re.MULTILINE)[1:]
    for section in sections:
        assert "curl " in section, f"no curl example under ### {section.splitlines()[0]}"
