"""Start the service as a real process (``idp serve`` under uvicorn) on a free port, for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

# Variables of the developer's or CI's environment that would change what the server does.
SCRUBBED_PREFIXES = ("IDP_", "GOOGLE_", "GEMINI_", "OLLAMA_", "WEAVIATE_", "LANGCHAIN_", "LANGSMITH_")
SCRUBBED = {"DATABASE_URL", "KUBECONFIG", "RATE_LIMIT_REQUESTS", "LOG_LEVEL"}
IDP = Path(sys.executable).parent / "idp"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED and not k.startswith(SCRUBBED_PREFIXES)}
    env.update(overrides)
    return env


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as in a crash or an OOM kill."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(
    log_dir: Path, env: dict[str, str], port: int | None = None, timeout: float = 40.0
) -> ServerProcess:
    """``idp serve`` with ``env`` (merged into a scrubbed environment), ready when /health answers."""
    port = port or free_port()
    log_path = log_dir / f"server-{port}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as sink:
        proc = subprocess.Popen(
            [str(IDP), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=clean_env(**env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(proc, port, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not answer /health within {timeout}s:\n{server.log()}")
