"""The service's edges through FastAPI's TestClient: bad input is a 4xx naming the field, keys,
rate limits, body limits and CORS. (The HTTP contract over a real socket is test_server_http.py.)"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from idp.settings import DEMO_SNAPSHOT, Settings
from server.app import create_app

DEMO = yaml.safe_load((DEMO_SNAPSHOT / "scenarios.yaml").read_text())["scenarios"]
OOM = next(s for s in DEMO if s["expect"]["category"] == "OOMKilled")


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "IDP_CLUSTER_SOURCE": "demo",
        "IDP_DATA_DIR": str(data_dir),
        "IDP_LLM_PROVIDER": "none",
        "RATE_LIMIT_REQUESTS": 0,
        "DATABASE_URL": None,
        "WEAVIATE_URL": None,
        "IDP_API_KEYS": "",
        "IDP_CORS_ORIGINS": "",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path_factory.mktemp("data")))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


BAD_DIAGNOSE_BODIES = [
    pytest.param({"error_message": ""}, 422, "error_message:", id="empty-text"),
    pytest.param({"error_message": "   \n  "}, 422, "error_message:", id="blank-text"),
    pytest.param({"error_message": "x" * 16_001}, 422, "error_message:", id="oversized-text"),
    pytest.param({"error_message": ["OOMKilled"]}, 422, "error_message:", id="text-wrong-type"),
    pytest.param(
        {"error_message": "OOMKilled", "namespace": "Bad_NS"}, 422, "namespace:", id="invalid-namespace"
    ),
    pytest.param(
        {"error_message": "OOMKilled", "namespace": 7}, 422, "namespace:", id="namespace-wrong-type"
    ),
    pytest.param({"error_message": "OOMKilled", "pod": "UPPER/case"}, 422, "pod:", id="invalid-pod"),
    pytest.param(
        {"error_message": "OOMKilled", "workload": "deployment/Not_A_Name"},
        422,
        "workload:",
        id="invalid-workload",
    ),
    pytest.param({"error_message": "OOMKilled", "colour": "red"}, 422, "colour:", id="unknown-field"),
    pytest.param(
        {"error_message": "OOMKilled", "thread_id": "../etc/passwd"}, 422, "thread_id:", id="bad-thread-id"
    ),
    pytest.param({}, 422, "error_message is required", id="nothing-to-answer"),
    pytest.param([1, 2], 422, "body:", id="body-not-an-object"),
    pytest.param({"question": "which runbook?"}, 400, "thread_id:", id="question-without-thread"),
]


@pytest.mark.parametrize(("body", "status", "detail"), BAD_DIAGNOSE_BODIES)
def test_bad_diagnose_input_is_a_4xx_naming_the_field(
    client: TestClient, body: Any, status: int, detail: str
) -> None:
    response = client.post("/diagnose", json=body)
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/diagnose", b'{"error_message": "OOM'),
        ("/suggest-runbook", b"{nope"),
        ("/diagnose/invoke", b"{nope"),
    ],
)
def test_malformed_json_is_400_naming_the_body(client: TestClient, path: str, raw: bytes) -> None:
    response = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("body:")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"error_message": "OOMKilled", "top_k": 0}, "top_k:"),
        ({"error_message": "OOMKilled", "top_k": "many"}, "top_k:"),
        ({"error_message": ""}, "error_message:"),
        ({"top_k": 3}, "error_message:"),
    ],
)
def test_bad_suggest_runbook_input(client: TestClient, body: dict[str, Any], detail: str) -> None:
    response = client.post("/suggest-runbook", json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"input": {"error_message": 5}}, 422),
        ({"input": {"error_message": "OOMKilled", "namespace": "Bad_NS"}}, 422),
        ({"nope": 1}, 422),
    ],
)
def test_langserve_invoke_rejects_bad_input(client: TestClient, payload: dict[str, Any], status: int) -> None:
    response = client.post("/diagnose/invoke", json=payload)
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("payload", "status", "detail"),
    [
        (
            {"input": {"error_message": "x"}, "config": {"configurable": {"thread_id": "../x"}}},
            400,
            "thread_id:",
        ),
        ({"input": {"question": "which runbook?"}}, 400, "thread_id:"),
        (
            {"input": {"question": "which runbook?"}, "config": {"configurable": {"thread_id": "empty-1"}}},
            409,
            "thread has no diagnosis yet",
        ),
    ],
)
def test_langserve_domain_errors_keep_their_status(
    client: TestClient, payload: dict[str, Any], status: int, detail: str
) -> None:
    invoked = client.post("/diagnose/invoke", json=payload)
    assert invoked.status_code == status
    assert invoked.json()["detail"].startswith(detail)
    # A stream has already answered 200 when the run starts: the error is its one data event.
    streamed = client.post("/diagnose/stream", json=payload)
    events = [json.loads(line[5:]) for line in streamed.text.splitlines() if line.startswith("data:")]
    assert {"event": "error", "status_code": status} | {"detail": events[-1].get("detail")} == events[-1]
    assert events[-1]["detail"].startswith(detail)


def test_followup_in_a_thread_without_a_diagnosis_is_409(client: TestClient) -> None:
    response = client.post("/diagnose", json={"question": "which runbook?", "thread_id": "fresh-thread"})
    assert response.status_code == 409
    assert response.json()["detail"] == "thread has no diagnosis yet"


def test_diagnosis_does_not_echo_secrets(client: TestClient) -> None:
    paste = (
        f"{OOM['input']['error_message']}\nDATABASE_PASSWORD=hunter2-very-secret "
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    )
    response = client.post("/diagnose", json={**OOM["input"], "error_message": paste})
    assert response.status_code == 200
    assert "hunter2-very-secret" not in response.text
    assert "wJalrXUtnFEMI" not in response.text


def test_diagnose_returns_the_diagnosis_of_the_demo(client: TestClient) -> None:
    response = client.post("/diagnose", json=OOM["input"])
    assert response.status_code == 200
    body = response.json()
    assert body["category"] == OOM["expect"]["category"]
    assert body["api_requests"] > 0
    assert "answer" not in body and "thread_id" not in body


def test_body_over_the_limit_is_413(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, IDP_MAX_BODY_BYTES=2048))
    with TestClient(app) as small:
        big = {"error_message": "x" * 3000}
        assert small.post("/diagnose", json=big).status_code == 413

        def chunks() -> Iterator[bytes]:
            # No Content-Length: the limit must hold while the body streams in.
            yield b'{"error_message": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}'

        response = small.post("/diagnose", content=chunks(), headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert response.json()["detail"].startswith("request body larger than")
        assert small.post("/diagnose", json={"error_message": "OOMKilled"}).status_code == 200


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(tmp_path_factory.mktemp("keyed"), IDP_API_KEYS="alpha-key-1, beta-key-2")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/health", "/ready", "/"])
def test_open_paths_need_no_key(keyed: TestClient, path: str) -> None:
    assert keyed.get(path).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/diagnose"),
        ("POST", "/diagnose/invoke"),
        ("POST", "/suggest-runbook"),
        ("GET", "/cluster-health"),
        ("GET", "/metrics"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
        ("GET", "/diagnose/input_schema"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "alpha-key-1x"}, {"Authorization": "alpha-key-1"}],
    ids=["none", "wrong-bearer", "wrong-x-api-key", "no-bearer-scheme"],
)
def test_everything_else_needs_a_valid_key(
    keyed: TestClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = keyed.request(method, path, headers=headers, json={"error_message": "OOMKilled"})
    assert response.status_code == 401
    assert response.json()["detail"] == "missing or invalid API key"


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer alpha-key-1"}, {"X-API-Key": "beta-key-2"}],
    ids=["bearer", "x-api-key"],
)
def test_a_valid_key_opens_the_api(keyed: TestClient, headers: dict[str, str]) -> None:
    assert keyed.post("/diagnose", headers=headers, json={"error_message": "OOMKilled"}).status_code == 200
    assert keyed.get("/metrics", headers=headers).status_code == 200


def test_rate_limit_per_key_with_retry_after(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, IDP_API_KEYS="k-one,k-two", RATE_LIMIT_REQUESTS=3)
    with TestClient(create_app(settings)) as limited:
        one = {"X-API-Key": "k-one"}
        codes = [
            limited.post("/suggest-runbook", headers=one, json={"error_message": "OOMKilled"}).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        refused = limited.get("/cluster-health", headers=one)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["detail"] == "rate limit exceeded"
        # Another key has its own budget; probes are never limited.
        assert limited.get("/cluster-health", headers={"X-API-Key": "k-two"}).status_code == 200
        assert all(limited.get("/health").status_code == 200 for _ in range(5))


def test_rate_limit_per_address_without_keys(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, RATE_LIMIT_REQUESTS=2))) as limited:
        codes = [limited.get("/cluster-health").status_code for _ in range(3)]
        assert codes == [200, 200, 429]


def test_cors_only_for_configured_origins(tmp_path: Path) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    settings = make_settings(tmp_path, IDP_CORS_ORIGINS="https://idp.example.com")
    with TestClient(create_app(settings)) as cors:
        allowed = cors.options("/diagnose", headers={"Origin": "https://idp.example.com", **preflight})
        assert allowed.headers.get("access-control-allow-origin") == "https://idp.example.com"
        other = cors.options("/diagnose", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in other.headers
        simple = cors.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers


def test_no_cors_headers_without_configured_origins(client: TestClient) -> None:
    response = client.get("/health", headers={"Origin": "https://idp.example.com"})
    assert "access-control-allow-origin" not in response.headers


def _cache_hits(client: TestClient) -> float:
    line = next(
        x for x in client.get("/metrics").text.splitlines() if x.startswith("idp_diagnosis_cache_hits_total")
    )
    return float(line.split()[-1])


@pytest.mark.parametrize(("ttl", "hits"), [(30, 2), (0, 0)], ids=["cache-on", "cache-off"])
def test_identical_stateless_diagnoses_share_a_run(tmp_path: Path, ttl: int, hits: int) -> None:
    with TestClient(create_app(make_settings(tmp_path, IDP_DIAGNOSIS_CACHE_TTL=ttl))) as cached:
        bodies = [cached.post("/diagnose", json=OOM["input"]).json() for _ in range(3)]
        same = [{k: v for k, v in b.items() if k != "timings_ms"} for b in bodies]
        assert same[0] == same[1] == same[2]
        # A shared run returns the very same answer, timings included.
        assert (bodies[0]["timings_ms"] == bodies[2]["timings_ms"]) is (hits > 0)
        assert _cache_hits(cached) == hits
        # A different request, and anything in a thread, runs the graph.
        cached.post("/diagnose", json={**OOM["input"], "pod": None})
        cached.post("/diagnose", json={**OOM["input"], "thread_id": "t-1"})
        cached.post("/diagnose", json={**OOM["input"], "thread_id": "t-1"})
        assert _cache_hits(cached) == hits


def test_env_example_documents_every_setting() -> None:
    text = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    documented = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        names.add(str(choices[0]) if choices else str(alias))
    assert names <= documented, f"undocumented in .env.example: {sorted(names - documented)}"
    # Every documented value that is set parses as a setting.
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.+)$", text, re.MULTILINE))
    Settings(**values)
