"""Shared fixtures: snapshot folders, the loopback API stand-in, and the session-wide write check.

Every stand-in started in this process is registered in :mod:`tools.fake_apiserver`; the
session ends by asserting that none of them ever received a request other than GET.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tools.fake_apiserver import FakeApiServer, Faults, all_recorded_requests, write_kubeconfig

FIXTURES = Path(__file__).parent / "fixtures"
SNAPSHOTS = FIXTURES / "snapshots"


@pytest.fixture(scope="session", autouse=True)
def no_write_reached_a_stand_in() -> Iterator[None]:
    """The whole suite ends by proving the cluster layer never sent a write."""
    yield
    writes = [r for r in all_recorded_requests() if r.method != "GET"]
    assert not writes, f"non-GET requests reached a loopback API stand-in: {writes[:10]}"


@pytest.fixture
def snapshot_path() -> Callable[[str], Path]:
    """``snapshot_path("reader-behaviour")``: a snapshot folder under tests/fixtures/snapshots."""

    def resolve(name: str) -> Path:
        path = SNAPSHOTS / name
        assert (path / "cluster.json").is_file(), f"no snapshot fixture {name}"
        return path

    return resolve


@pytest.fixture
def fake_apiserver() -> Iterator[Callable[..., FakeApiServer]]:
    """Factory: ``fake_apiserver(path_or_items, faults=Faults(...))`` started, stopped after the test."""
    started: list[FakeApiServer] = []

    def start(source: Any, *, faults: Faults | None = None, **kwargs: Any) -> FakeApiServer:
        server = FakeApiServer(source, faults=faults, **kwargs)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def kubeconfig_for(tmp_path: Path) -> Callable[[FakeApiServer], Path]:
    """Factory: a kubeconfig file in ``tmp_path`` pointing at a running stand-in."""

    def write(server: FakeApiServer) -> Path:
        return write_kubeconfig(tmp_path / f"kubeconfig-{server.port}", server.url)

    return write
