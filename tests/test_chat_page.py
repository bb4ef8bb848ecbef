"""The chat page in a real headless Chromium (Debian's chromium, driven by playwright-core from npm):
a diagnosis streams in and renders, a fix command copies, a runbook opens, a follow-up is answered."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from serverproc import ServerProcess, start_server

from idp.settings import DEMO_SNAPSHOT

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "js" / "chat_page.mjs"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
DEMO = yaml.safe_load((DEMO_SNAPSHOT / "scenarios.yaml").read_text())["scenarios"]
OOM = next(s for s in DEMO if s["expect"]["category"] == "OOMKilled")

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (ROOT / "node_modules" / "playwright-core").is_dir(), reason="playwright-core missing: run npm ci"
    ),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing: apt-get install chromium"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("data")
    proc = start_server(data, {"IDP_DATA_DIR": str(data), "RATE_LIMIT_REQUESTS": "0"})
    yield proc
    proc.stop()


def test_chat_page_streams_renders_and_answers_followups(server: ServerProcess, tmp_path: Path) -> None:
    shot = tmp_path / "chat.png"
    run = subprocess.run(
        [
            "node",
            str(SCRIPT),
            server.url,
            str(shot),
            OOM["input"]["error_message"],
            OOM["input"]["namespace"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["status"].startswith("ready")
    assert seen["category"] == "OOMKilled"
    assert OOM["input"]["pod"].split("-")[0] in seen["rootCause"]
    assert seen["progressSteps"] >= 5, "classified, objects read, runbooks, analysis, critic"
    assert seen["evidence"] >= 1 and seen["commands"]
    assert seen["clipboard"] == seen["commands"][0]
    assert seen["runbooks"][0] == OOM["expect"]["runbook"]
    assert seen["runbookDoc"].startswith("## ")
    assert seen["answerIntent"] == "fix"
    assert seen["answerCommands"] == seen["commands"]
    assert seen["replies"] == 2 and seen["errors"] == []
    assert seen["consoleErrors"] == []
    assert shot.stat().st_size > 10_000
    # Keep the screenshot for a human look when asked to (IDP_SCREENSHOT_DIR).
    keep = os.environ.get("IDP_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / "chat-page.png")
