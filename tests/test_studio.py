"""Studio: ``langgraph dev`` serves the graph that langgraph.json names, and a run works offline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from serverproc import clean_env, free_port

from idp.settings import DEMO_SNAPSHOT

ROOT = Path(__file__).resolve().parents[1]
LANGGRAPH = Path(sys.executable).parent / "langgraph"
DEMO = yaml.safe_load((DEMO_SNAPSHOT / "scenarios.yaml").read_text())["scenarios"]
OOM = next(s for s in DEMO if s["expect"]["category"] == "OOMKilled")


def test_langgraph_json_points_at_the_compiled_graph() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["graphs"] == {"idp-diagnose": "./graph/builder.py:graph"}


@pytest.mark.skipif(
    not LANGGRAPH.exists(), reason="langgraph-cli[inmem] is not installed (pip install -e '.[studio]')"
)
def test_langgraph_dev_runs_a_diagnosis_offline(tmp_path: Path) -> None:
    # langgraph dev resolves graph paths from its working directory and keeps its state in
    # ./.langgraph_api: run it from a scratch folder that links to the graph package.
    (tmp_path / "graph").symlink_to(ROOT / "graph")
    (tmp_path / "langgraph.json").write_text((ROOT / "langgraph.json").read_text())
    port = free_port()
    env = clean_env(
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        LANGGRAPH_NO_VERSION_CHECK="true",
        IDP_SNAPSHOT=str(DEMO_SNAPSHOT),
        IDP_DATA_DIR=str(tmp_path / "data"),
        IDP_LLM_PROVIDER="none",
    )
    log = (tmp_path / "langgraph-dev.log").open("wb")
    proc = subprocess.Popen(
        [str(LANGGRAPH), "dev", "--no-browser", "--no-reload", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "langgraph-dev.log").read_text()
            try:
                if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "langgraph dev did not start in 60 s"
            time.sleep(0.2)
        response = httpx.post(
            f"{url}/runs/wait", json={"assistant_id": "idp-diagnose", "input": OOM["input"]}, timeout=60
        )
        assert response.status_code == 200, response.text
        diagnosis = response.json()["diagnosis"]
        assert diagnosis["category"] == "OOMKilled"
        assert diagnosis["api_requests"] > 0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()
