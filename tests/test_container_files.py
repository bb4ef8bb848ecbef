"""Dockerfile, .dockerignore, compose.yaml and .github/workflows, checked without a Docker engine.

What runs for real: the image's entrypoint and health-check commands (with sh and python, as
in the image), checkov's Dockerfile checks, `docker compose config` (or docker-compose) when
a client is installed, and the example workflow's diagnose step against a local HTTP server.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from idp.settings import Settings
from server.schemas import DiagnoseBody, DiagnoseReply

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
SERVE = ["idp", "serve", "--host", "0.0.0.0", "--port", "8000"]
BUILD_TOOLS = re.compile(r"\b(apt-get|apt|gcc|g\+\+|make|build-essential|pip install)\b")


@dataclass
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        parsed = json.loads(self.args)
        assert isinstance(parsed, list), f"{self.keyword} should use the exec (JSON) form"
        return [str(part) for part in parsed]


def dockerfile_stages() -> dict[str, list[Instruction]]:
    """Instructions per build stage (by its AS name), continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: dict[str, list[Instruction]] = {}
    current: list[Instruction] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        instruction = Instruction(keyword.upper(), args.strip())
        if instruction.keyword == "FROM":
            name = args.split(" AS ")[-1].strip() if " AS " in args else str(len(stages))
            current = stages.setdefault(name, [])
        current.append(instruction)
    return stages


def runtime() -> list[Instruction]:
    return list(dockerfile_stages().values())[-1]


def last(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert found, f"no {keyword} in the stage"
    return found[-1]


def runtime_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in runtime():
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


# --- Dockerfile ------------------------------------------------------------------------------


def test_image_is_multi_stage_on_python_311_slim() -> None:
    stages = dockerfile_stages()
    assert list(stages) == ["builder", "runtime"]
    for stage in stages.values():
        assert stage[0].args.split()[0] == "python:3.11-slim"


def test_runtime_stage_has_no_build_tools() -> None:
    """Only the builder installs; the runtime stage copies the finished venv and index."""
    for instruction in runtime():
        if instruction.keyword == "RUN":
            assert not BUILD_TOOLS.search(instruction.args), instruction.args
    copies = [i.args for i in runtime() if i.keyword == "COPY"]
    assert copies and all(c.startswith("--from=builder ") for c in copies)
    builder_runs = " ".join(i.args for i in dockerfile_stages()["builder"] if i.keyword == "RUN")
    assert "build-essential" in builder_runs and "pip install" in builder_runs


def test_runtime_runs_as_a_fixed_non_root_user() -> None:
    user = last(runtime(), "USER").args
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 10000, "numeric uid so runAsNonRoot can verify it"
    assert "--uid " + uid in " ".join(i.args for i in runtime() if i.keyword == "RUN")


def test_runbook_index_is_built_in_the_image_and_copied_to_the_runtime() -> None:
    builder = dockerfile_stages()["builder"]
    index_runs = [i.args for i in builder if i.keyword == "RUN" and "idp runbooks index" in i.args]
    assert len(index_runs) == 1
    seed = re.search(r"IDP_DATA_DIR=(\S+)", index_runs[0])
    assert seed, "the index build must say where it writes"
    assert f"--from=builder {seed.group(1)} {seed.group(1)}" in [
        i.args for i in runtime() if i.keyword == "COPY"
    ]
    assert seed.group(1) in last(runtime(), "ENTRYPOINT").args


def test_writable_paths_for_a_read_only_root() -> None:
    env = runtime_env()
    volumes = json.loads(last(runtime(), "VOLUME").args)
    assert env["IDP_DATA_DIR"] in volumes
    # HOME and TMPDIR must be somewhere a read-only root still lets us write: a volume or /tmp
    # (a tmpfs in compose, an emptyDir in Kubernetes).
    for name in ("HOME", "TMPDIR", "XDG_CACHE_HOME"):
        assert env[name].startswith(("/tmp", env["IDP_DATA_DIR"])), name
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert set(env) - {
        "PATH",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "HOME",
        "TMPDIR",
        "XDG_CACHE_HOME",
    } <= {str(f.validation_alias) for f in Settings.model_fields.values()}


def test_command_serves_on_all_interfaces() -> None:
    assert last(runtime(), "CMD").exec_form() == SERVE
    assert last(runtime(), "EXPOSE").args == "8000"


def run_entrypoint(tmp_path: Path, seed: Path | None, *command: str) -> subprocess.CompletedProcess[str]:
    entrypoint = last(runtime(), "ENTRYPOINT").exec_form()
    assert entrypoint[:2] == ["/bin/sh", "-c"]
    script = entrypoint[2]
    if seed is not None:
        script = script.replace("/opt/idp/seed", str(seed))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "IDP_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        ["/bin/sh", "-c", script, *entrypoint[3:], *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_entrypoint_seeds_the_data_volume_without_overwriting(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    (seed / "index").mkdir(parents=True)
    (seed / "index" / "bm25.json").write_text("built")
    (seed / "threads.db").write_text("seed copy")
    data = tmp_path / "data"
    data.mkdir()
    (data / "threads.db").write_text("user data")

    done = run_entrypoint(tmp_path, seed, "sh", "-c", 'echo "ran $0 $1"', "a", "b")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ran a b"
    assert (data / "index" / "bm25.json").read_text() == "built"
    assert (data / "threads.db").read_text() == "user data"


def test_entrypoint_runs_the_command_when_there_is_no_seed(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    done = run_entrypoint(tmp_path, tmp_path / "absent", "sh", "-c", "exit 7")
    assert done.returncode == 7


def test_index_built_like_the_image_is_reused_after_seeding(tmp_path: Path) -> None:
    """The builder's index step, then the entrypoint's copy, then a start that must not rebuild."""
    idp = Path(sys.executable).parent / "idp"
    [index_run] = [i.args for i in dockerfile_stages()["builder"] if "idp runbooks index" in i.args]
    seed_dir = re.search(r"IDP_DATA_DIR=(\S+)", index_run)
    assert seed_dir is not None
    seed = tmp_path / "seed"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "IDP_DATA_DIR": str(seed)}
    built = subprocess.run(
        [str(idp), "runbooks", "index"], env=env, capture_output=True, text=True, timeout=120
    )
    assert built.returncode == 0, built.stderr
    assert "reused" not in built.stdout

    (tmp_path / "data").mkdir()
    started = run_entrypoint(tmp_path, seed, str(idp), "runbooks", "index")
    assert started.returncode == 0, started.stderr
    assert f"at {tmp_path / 'data'}" in started.stdout
    assert "reused the persisted index" in started.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_image_command_starts_healthy_on_the_seeded_index(tmp_path: Path) -> None:
    """ENTRYPOINT + CMD + ENV as the image runs them (demo cluster, no model), on a free port.

    Builds the seed with the builder's index step, starts the service through the entrypoint,
    then runs the HEALTHCHECK command and asks /ready, which needs the runbook index loaded.
    """
    bin_dir = Path(sys.executable).parent
    seed = tmp_path / "seed"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path), "IDP_DATA_DIR": str(seed)}
    subprocess.run(["idp", "runbooks", "index"], env=env, check=True, capture_output=True, timeout=120)

    port = free_port()
    image_env = runtime_env()
    env.update(
        IDP_DATA_DIR=str(tmp_path / "data"),
        HOME=str(tmp_path / "tmp"),
        TMPDIR=str(tmp_path / "tmp"),
        IDP_CLUSTER_SOURCE="demo",
        LOG_LEVEL="INFO",
        PYTHONDONTWRITEBYTECODE=image_env["PYTHONDONTWRITEBYTECODE"],
    )
    (tmp_path / "data").mkdir()
    (tmp_path / "tmp").mkdir()
    entrypoint = last(runtime(), "ENTRYPOINT").exec_form()
    script = entrypoint[2].replace("/opt/idp/seed", str(seed))
    command = [p if p != "8000" else str(port) for p in last(runtime(), "CMD").exec_form()]
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        ["/bin/sh", "-c", script, *entrypoint[3:], *command], env=env, stdout=log, stderr=log
    )
    try:
        health = last(runtime(), "HEALTHCHECK").args
        probe = json.loads(health[health.index("CMD") + 3 :].strip())[2].replace(
            "127.0.0.1:8000", f"127.0.0.1:{port}"
        )
        healthy = False
        for _ in range(240):  # up to 60 s: a cold import of the graph takes several seconds
            if process.poll() is not None:
                break
            if subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=10).returncode == 0:
                healthy = True
                break
            time.sleep(0.25)
        output = (tmp_path / "serve.log").read_text()
        assert healthy, output[-3000:]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=10) as response:
            ready = json.load(response)
        assert ready["ready"] is True and ready["checks"]["runbook_index"] == "ok", ready
        assert "loaded from cache" in (tmp_path / "serve.log").read_text(), "the seeded index was rebuilt"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


class _Status(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads exit codes, not access logs."""


@pytest.fixture
def http_server() -> Iterator[tuple[ThreadingHTTPServer, type[_Status]]]:
    handler = type("Handler", (_Status,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_command_probes_health(
    http_server: tuple[ThreadingHTTPServer, type[_Status]], status: int, healthy: bool
) -> None:
    server, handler = http_server
    handler.status = status
    health = last(runtime(), "HEALTHCHECK").args
    command = json.loads(health[health.index("CMD") + 3 :].strip())
    assert command[0] == "python" and "curl" not in health
    code = command[2].replace("127.0.0.1:8000", f"127.0.0.1:{server.server_address[1]}")
    done = subprocess.run(["python3", "-c", code], capture_output=True, timeout=30)
    assert (done.returncode == 0) is healthy


def test_healthcheck_fails_when_nothing_listens(
    http_server: tuple[ThreadingHTTPServer, type[_Status]],
) -> None:
    server, _ = http_server
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    health = last(runtime(), "HEALTHCHECK").args
    code = json.loads(health[health.index("CMD") + 3 :].strip())[2].replace(
        "127.0.0.1:8000", f"127.0.0.1:{port}"
    )
    assert subprocess.run(["python3", "-c", code], capture_output=True, timeout=30).returncode != 0


def test_dockerignore_admits_exactly_what_the_build_copies() -> None:
    rules = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [r for r in rules if r and not r.startswith("#")]
    assert rules[0] == "*", "deny by default: secrets and .venv never reach the build context"
    admitted = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    copied: set[str] = set()
    for instruction in dockerfile_stages()["builder"]:
        if instruction.keyword == "COPY" and not instruction.args.startswith("--from"):
            copied.update(p.rstrip("/") for p in instruction.args.split()[:-1])
    assert copied == admitted
    for path in copied:
        assert (ROOT / path).exists(), f"COPY {path}: not in the repository"
    assert ".env" in rules


def test_image_copies_every_package_pyproject_installs() -> None:
    """A package missing from COPY would make `pip install .` ship an image without it."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {
        i.args.split()[0].rstrip("/")
        for i in dockerfile_stages()["builder"]
        if i.keyword == "COPY" and not i.args.startswith("--from")
    }
    assert packages <= copied


def checkov() -> str | None:
    return shutil.which("checkov") or (
        str(ROOT / ".venv/bin/checkov") if (ROOT / ".venv/bin/checkov").exists() else None
    )


@pytest.mark.skipif(checkov() is None, reason="checkov not installed")
def test_checkov_dockerfile_checks_pass() -> None:
    done = subprocess.run(
        [str(checkov()), "-f", str(DOCKERFILE), "--framework", "dockerfile", "-o", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stdout)
    assert report["summary"]["failed"] == 0, [c["check_id"] for c in report["results"]["failed_checks"]]
    assert report["summary"]["passed"] > 50
    assert report["summary"]["skipped"] == 0


# --- compose.yaml ----------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def expand_defaults(value: str) -> str:
    """Compose's ${VAR:-default} with an empty environment."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_compose_services_are_wired_by_settings() -> None:
    services = compose()["services"]
    assert set(services) == {"idp", "weaviate", "postgres"}
    idp = services["idp"]
    env = {k: expand_defaults(str(v)) for k, v in idp["environment"].items()}
    assert set(env) <= {str(f.validation_alias) for f in Settings.model_fields.values()}
    settings = Settings.model_validate(env)
    assert settings.weaviate_url == "http://weaviate:8080"
    assert "8080" in services["weaviate"]["expose"]

    pg = services["postgres"]["environment"]
    assert settings.database_url is not None
    url = settings.database_url.get_secret_value()
    assert (
        url
        == f"postgresql://{pg['POSTGRES_USER']}:{expand_defaults(pg['POSTGRES_PASSWORD'])}@postgres:5432/{pg['POSTGRES_DB']}"
    )
    assert idp["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "weaviate": {"condition": "service_healthy"},
    }


def test_compose_runs_the_service_like_kubernetes_does() -> None:
    idp = compose()["services"]["idp"]
    assert idp["command"] == SERVE
    assert idp["read_only"] is True
    assert idp["cap_drop"] == ["ALL"]
    assert idp["user"] == last(runtime(), "USER").args
    assert any(t.startswith("/tmp") for t in idp["tmpfs"])
    assert f"idp-data:{idp['environment']['IDP_DATA_DIR']}" in idp["volumes"]
    assert idp["ports"] == ["127.0.0.1:8000:8000"]
    health = last(runtime(), "HEALTHCHECK").args
    assert json.loads(health[health.index("CMD") + 3 :].strip()) == idp["healthcheck"]["test"][1:]


def test_compose_every_service_has_a_healthcheck_and_named_volumes() -> None:
    spec = compose()
    for name, service in spec["services"].items():
        assert service["healthcheck"]["test"], name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith(("/", ".", "$")):
                assert source in spec["volumes"], f"{name}: volume {source} not declared"
    weaviate = spec["services"]["weaviate"]
    assert weaviate["environment"]["DEFAULT_VECTORIZER_MODULE"] == "none"
    # weaviate-client refuses to talk to servers before 1.27.
    major, minor = (int(part) for part in weaviate["image"].rpartition(":")[2].split(".")[:2])
    assert (major, minor) >= (1, 27)


def compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.mark.skipif(
    compose_client() is None, reason="neither `docker compose` nor docker-compose is installed"
)
def test_compose_config_validates(tmp_path: Path) -> None:
    client = compose_client()
    assert client is not None
    done = subprocess.run(
        [*client, "-f", str(ROOT / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    broken = tmp_path / "compose.yaml"
    broken.write_text((ROOT / "compose.yaml").read_text().replace("read_only: true", "read_onlyy: true"))
    refused = subprocess.run(
        [*client, "-f", str(broken), "config", "-q"], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0, "the validator must refuse an unknown key"


# --- .github/workflows -----------------------------------------------------------------------


def workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    return loaded


def test_ci_workflow_mirrors_ci_run() -> None:
    ci = workflow("ci.yml")
    [job] = ci["jobs"].values()
    steps = job["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/checkout@") for u in uses)
    assert job["container"].startswith("python:3.11-"), "the project's Python"
    apt = " ".join(s.get("run", "") for s in steps if "apt-get install" in s.get("run", ""))
    for package in ("kubernetes-client", "chromium", "postgresql"):
        assert package in apt.split()
    assert steps[-1]["run"].strip() == "bash .ci/run"
    assert (ROOT / ".ci" / "run").is_file()
    assert ci["permissions"] == {"contents": "read"}


class _Diagnose(BaseHTTPRequestHandler):
    """POST /diagnose as the service answers it: its request and reply models, its auth header."""

    key = "test-key"
    received: list[DiagnoseBody]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/diagnose" or self.headers.get("X-API-Key") != self.key:
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b'{"detail": "invalid API key"}')
            return
        try:
            self.received.append(DiagnoseBody.model_validate_json(body))
        except ValidationError as exc:
            self.send_response(422)
            self.end_headers()
            self.wfile.write(exc.json().encode())
            return
        reply = DiagnoseReply(
            category="ImagePullBackOff",
            root_cause="tag v9 of repo/app does not exist in the registry",
            confidence=0.9,
            summary="payments-api: image tag v9 not found",
            fix_commands=["kubectl -n payments set image deploy/payments-api app=repo/app:v8"],
        )
        data = reply.model_dump_json().encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads what was received."""


@pytest.fixture
def diagnose_server() -> Iterator[tuple[str, type[_Diagnose]]]:
    handler = type("Handler", (_Diagnose,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def run_diagnose_step(
    tmp_path: Path, url: str, key: str, tolerated: str = ""
) -> subprocess.CompletedProcess[str]:
    steps = workflow("diagnose-failed-deploy.yml")["jobs"]["deploy"]["steps"]
    step = next(s for s in steps if s.get("name") == "Diagnose the failed deploy")
    assert "secrets.IDP_API_KEY" in step["env"]["IDP_API_KEY"]
    (tmp_path / "deploy-output.txt").write_text(
        "applying manifests\n"
        * 3000  # longer than the service accepts: the step must trim it
        + "deployment.apps/payments-api configured\n"
        'Waiting for deployment "payments-api" rollout to finish: 0 of 1 updated replicas are available...\n'
        'error: deployment "payments-api" exceeded its progress deadline\n'
    )
    env = {
        "PATH": os.environ["PATH"],
        "NAMESPACE": "payments",
        "IDP_URL": url,
        "IDP_API_KEY": key,
        "TOLERATED_CATEGORIES": tolerated,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
    }
    return subprocess.run(
        ["bash", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


needs_curl_jq = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("jq") is None, reason="curl and jq are needed"
)


@needs_curl_jq
def test_diagnose_step_fails_the_build_with_the_category(
    tmp_path: Path, diagnose_server: tuple[str, type[_Diagnose]]
) -> None:
    url, handler = diagnose_server
    done = run_diagnose_step(tmp_path, url, handler.key)
    assert done.returncode == 1
    assert (
        "::error title=Deploy failed: ImagePullBackOff::payments-api: image tag v9 not found" in done.stdout
    )
    summary = (tmp_path / "summary.md").read_text()
    assert "`ImagePullBackOff`" in summary and "set image deploy/payments-api" in summary
    assert (tmp_path / "output.txt").read_text() == "category=ImagePullBackOff\n"
    [request] = handler.received
    assert request.namespace == "payments"
    assert request.error_message is not None
    assert request.error_message.endswith("exceeded its progress deadline")


@needs_curl_jq
def test_diagnose_step_passes_a_tolerated_category(
    tmp_path: Path, diagnose_server: tuple[str, type[_Diagnose]]
) -> None:
    url, handler = diagnose_server
    done = run_diagnose_step(tmp_path, url, handler.key, tolerated="ProbeFailure ImagePullBackOff")
    assert done.returncode == 0
    assert "::warning" in done.stdout


@needs_curl_jq
def test_diagnose_step_fails_when_the_service_refuses_the_key(
    tmp_path: Path, diagnose_server: tuple[str, type[_Diagnose]]
) -> None:
    url, handler = diagnose_server
    done = run_diagnose_step(tmp_path, url, "wrong", tolerated="ImagePullBackOff")
    assert done.returncode != 0
    assert handler.received == []
