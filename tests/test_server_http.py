"""The service's contract over real HTTP: ``idp serve`` (uvicorn) in a subprocess on a free port,
serving the bundled demo snapshot with nothing else configured."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from serverproc import ServerProcess, start_server

from idp.settings import DEMO_SNAPSHOT

DEMO = yaml.safe_load((DEMO_SNAPSHOT / "scenarios.yaml").read_text())["scenarios"]
OOM = next(s for s in DEMO if s["expect"]["category"] == "OOMKilled")
IMAGE = next(s for s in DEMO if s["expect"]["category"] == "ImagePullBackOff")
PROGRESS = ["classified", "objects_read", "runbooks_found", "analysis", "critic"]


def sse(text: str) -> list[tuple[str, Any]]:
    """(event, data) pairs of a text/event-stream body."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data or name != "message":
            events.append((name, json.loads("\n".join(data)) if data else None))
    return events


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("data")
    proc = start_server(data, {"IDP_DATA_DIR": str(data), "RATE_LIMIT_REQUESTS": "0"})
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def test_startup_logs_name_the_sources(server: ServerProcess) -> None:
    log = server.log()
    assert f"cluster source: snapshot:{DEMO_SNAPSHOT}" in log
    assert re.search(r"runbook index: \w+ \(\d+ runbooks, ready=True\)", log)
    assert "model provider: none: deterministic analyzers" in log


def test_rest_diagnose_returns_the_diagnosis(http: httpx.Client) -> None:
    response = http.post("/diagnose", json=OOM["input"])
    assert response.status_code == 200
    body = response.json()
    assert body["category"] == "OOMKilled"
    for mention in OOM["expect"]["mentions"]:
        assert mention.lower() in (body["root_cause"] + " ".join(body["evidence"])).lower()
    assert body["runbooks"][0]["id"] == OOM["expect"]["runbook"]
    assert body["fingerprint"] and body["api_requests"] > 0


def test_health_ready_docs(http: httpx.Client) -> None:
    assert http.get("/health").json() == {"status": "ok"}
    ready = http.get("/ready").json()
    assert ready["ready"] is True
    assert ready["checks"] == {"runbook_index": "ok", "cluster_source": "ok"}
    assert ready["model"] == "none: deterministic analyzers"
    assert "swagger-ui" in http.get("/docs").text
    paths = http.get("/openapi.json").json()["paths"]
    for path in ("/diagnose", "/suggest-runbook", "/cluster-health", "/health", "/ready", "/diagnose/invoke"):
        assert path in paths


def test_langserve_invoke_and_batch(http: httpx.Client) -> None:
    invoked = http.post("/diagnose/invoke", json={"input": IMAGE["input"]})
    assert invoked.status_code == 200, invoked.text
    assert invoked.json()["output"]["diagnosis"]["category"] == "ImagePullBackOff"
    batch = http.post("/diagnose/batch", json={"inputs": [OOM["input"], IMAGE["input"]]})
    assert batch.status_code == 200, batch.text
    assert [o["diagnosis"]["category"] for o in batch.json()["output"]] == ["OOMKilled", "ImagePullBackOff"]


def test_langserve_schema_routes_and_playground(http: httpx.Client) -> None:
    assert "error_message" in http.get("/diagnose/input_schema").json()["properties"]
    assert "diagnosis" in http.get("/diagnose/output_schema").json()["properties"]
    assert "thread_id" in json.dumps(http.get("/diagnose/config_schema").json())
    assert http.get("/diagnose/playground/").status_code == 200


def test_stream_shows_the_work_then_the_diagnosis(http: httpx.Client) -> None:
    response = http.post("/diagnose/stream", json={"input": OOM["input"]})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    data = [d for name, d in sse(response.text) if name == "data"]
    kinds = [d["event"] for d in data]
    # The first pass in order; critic loops may repeat objects_read ... critic.
    assert kinds[: len(PROGRESS)] == PROGRESS
    assert kinds[-1] == "diagnosis"
    assert data[-1]["diagnosis"]["category"] == "OOMKilled"
    read = next(d for d in data if d["event"] == "objects_read")
    assert read["api_requests"] > 0 and any(o.startswith("Pod/") for o in read["objects"])
    assert sse(response.text)[-1][0] == "end"


def test_stream_events_show_the_nodes(http: httpx.Client) -> None:
    response = http.post("/diagnose/stream_events", json={"input": OOM["input"]})
    assert response.status_code == 200
    events = [d for name, d in sse(response.text) if name == "data"]
    started = {e["name"] for e in events if e["event"] == "on_chain_start"}
    assert {"classify", "inspect_cluster", "analyze", "critique", "finalize"} <= started
    ends = [e for e in events if e["event"] == "on_chain_end" and e["name"] == "idp-diagnose"]
    assert ends, "the root run ends with an on_chain_end event"


def test_chat_thread_over_rest(http: httpx.Client) -> None:
    thread = "rest-thread-1"
    first = http.post("/diagnose", json={**OOM["input"], "thread_id": thread}).json()
    assert first["category"] == "OOMKilled" and first["thread_id"] == thread and "answer" not in first
    before = metric(http.get("/metrics").text, "idp_cluster_api_requests_total")
    answers = {}
    for question in (
        "show the evidence again",
        "what if I raise the limit?",
        "which runbook?",
        "how do I fix it?",
    ):
        reply = http.post("/diagnose", json={"error_message": question, "thread_id": thread})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["fingerprint"] == first["fingerprint"], "a follow-up returns the thread's diagnosis"
        assert body["answer"]["about"] == first["fingerprint"]
        answers[body["answer"]["intent"]] = body["answer"]
    assert set(answers) == {"evidence", "what_if", "runbook", "fix"}
    assert answers["evidence"]["items"] == first["evidence"]
    assert answers["fix"]["items"] == first["fix_commands"]
    assert f"({OOM['expect']['runbook']}" in answers["runbook"]["items"][0]
    assert len(answers["runbook"]["items"]) == len(first["runbooks"])
    assert "addresses this OOMKilled" in answers["what_if"]["text"]
    # Follow-ups are answered from the thread: no cluster read.
    assert metric(http.get("/metrics").text, "idp_cluster_api_requests_total") == before
    # An explicit question field works the same; a new paste in the thread is a new diagnosis.
    explicit = http.post(
        "/diagnose", json={"question": "which pods are affected?", "thread_id": thread}
    ).json()
    assert explicit["answer"]["intent"] == "affected"
    second = http.post("/diagnose", json={**IMAGE["input"], "thread_id": thread}).json()
    assert second["category"] == "ImagePullBackOff" and "answer" not in second
    again = http.post("/diagnose", json={"error_message": "how do I fix it?", "thread_id": thread}).json()
    assert again["answer"]["about"] == second["fingerprint"]


def test_langserve_keeps_the_thread_id(http: httpx.Client) -> None:
    config = {"configurable": {"thread_id": "langserve-thread-1"}}
    first = http.post("/diagnose/invoke", json={"input": OOM["input"], "config": config})
    assert first.status_code == 200, first.text
    follow = http.post(
        "/diagnose/invoke", json={"input": {"error_message": "which runbook?"}, "config": config}
    )
    assert follow.status_code == 200, follow.text
    output = follow.json()["output"]
    assert output["answer"]["intent"] == "runbook"
    assert output["diagnosis"]["fingerprint"] == first.json()["output"]["diagnosis"]["fingerprint"]
    streamed = http.post(
        "/diagnose/stream", json={"input": {"question": "how do I fix it?"}, "config": config}
    )
    data = [d for name, d in sse(streamed.text) if name == "data"]
    assert [d["event"] for d in data] == ["answer"]
    assert data[0]["answer"]["intent"] == "fix"


def test_suggest_runbook_and_cluster_health(http: httpx.Client) -> None:
    suggested = http.post(
        "/suggest-runbook", json={"error_message": "Back-off pulling image ErrImagePull", "top_k": 2}
    )
    assert suggested.status_code == 200
    runbooks = suggested.json()["runbooks"]
    assert len(runbooks) == 2 and runbooks[0]["id"] == "imagepullbackoff"
    health = http.get("/cluster-health").json()
    assert health["nodes_ready"] + health["nodes_not_ready"] == len(health["nodes"]) > 0
    namespaces = {n["namespace"]: n for n in health["namespaces"]}
    assert OOM["input"]["namespace"] in namespaces and IMAGE["input"]["namespace"] in namespaces
    waiting = {r for n in health["namespaces"] for r in n["waiting_reasons"]}
    assert "ImagePullBackOff" in waiting or "ErrImagePull" in waiting
    worst = [o["pod"] for o in health["worst"]]
    assert OOM["input"]["pod"] in worst and IMAGE["input"]["pod"] in worst
    scores = [o["score"] for o in health["worst"]]
    assert scores == sorted(scores, reverse=True)


def test_metrics_count_diagnoses_and_requests(http: httpx.Client) -> None:
    http.post("/diagnose", json=OOM["input"])
    text = http.get("/metrics").text
    assert metric(text, "idp_diagnoses_total", category="OOMKilled", mode="rules") >= 1
    assert metric(text, "idp_http_requests_total", route="/diagnose", status="200") >= 1
    assert metric(text, "idp_http_request_duration_seconds_count", route="/diagnose") >= 1
    assert metric(text, "idp_cluster_api_requests_total") > 0
    assert metric(text, "idp_critic_loops_count") >= 1


def test_logs_are_redacted(server: ServerProcess, http: httpx.Client) -> None:
    http.get("/health", params={"password": "hunter2-in-a-query-string"})
    http.post("/diagnose", json={"error_message": "x", "namespace": "BAD", "token": "ghp_" + "a" * 36})
    assert "hunter2-in-a-query-string" not in server.log()
    assert "ghp_" + "a" * 36 not in server.log()


def test_threads_survive_a_killed_server(tmp_path: Path) -> None:
    env = {"IDP_DATA_DIR": str(tmp_path / "data"), "RATE_LIMIT_REQUESTS": "0"}
    first = start_server(tmp_path, env)
    try:
        created = httpx.post(
            f"{first.url}/diagnose", json={**OOM["input"], "thread_id": "survivor"}, timeout=30
        )
        assert created.status_code == 200
    finally:
        first.kill()
    assert first.proc.returncode == -9
    second = start_server(tmp_path, env)
    try:
        reply = httpx.post(
            f"{second.url}/diagnose",
            json={"error_message": "which runbook?", "thread_id": "survivor"},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["answer"]["intent"] == "runbook"
        assert body["fingerprint"] == created.json()["fingerprint"]
        assert metric(httpx.get(f"{second.url}/metrics").text, "idp_cluster_api_requests_total") == 0
    finally:
        second.stop()
