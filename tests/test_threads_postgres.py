"""Chat threads in PostgreSQL, for real: a throwaway cluster (initdb + pg_ctl on a free port and a
unix socket), the service started with DATABASE_URL, killed, restarted, and asked a follow-up."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from serverproc import free_port, start_server

from idp.settings import DEMO_SNAPSHOT

PG_BIN_DIRS = [Path("/usr/lib/postgresql/15/bin"), Path("/usr/local/bin"), Path("/usr/bin")]
DEMO = yaml.safe_load((DEMO_SNAPSHOT / "scenarios.yaml").read_text())["scenarios"]
OOM = next(s for s in DEMO if s["expect"]["category"] == "OOMKilled")


def _pg_bin() -> Path | None:
    for folder in PG_BIN_DIRS:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def _as_postgres(args: list[str]) -> list[str]:
    # initdb refuses to run as root; as any other user it runs as that user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: initdb cannot be started")
    root = Path(tempfile.mkdtemp(prefix="idp-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres(
            [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses='' -c fsync=off"
    subprocess.run(
        _as_postgres(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(root / "pg.log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@/postgres?host={sockets}&port={port}"
    finally:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def test_threads_live_in_postgres_and_survive_a_killed_server(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "IDP_DATA_DIR": str(tmp_path / "data"), "RATE_LIMIT_REQUESTS": "0"}
    first = start_server(tmp_path, env)
    try:
        assert "threads: postgres:" in first.log()
        created = httpx.post(
            f"{first.url}/diagnose", json={**OOM["input"], "thread_id": "pg-thread"}, timeout=30
        )
        assert created.status_code == 200, created.text
    finally:
        first.kill()
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM checkpoints WHERE thread_id = %s", ("pg-thread",)
        ).fetchone()
        assert rows is not None and rows[0] >= 1
    # Not in SQLite: the default store was not used.
    assert not (tmp_path / "data" / "threads.sqlite").exists()
    second = start_server(tmp_path, env)
    try:
        reply = httpx.post(
            f"{second.url}/diagnose",
            json={"error_message": "how do I fix it?", "thread_id": "pg-thread"},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["answer"]["intent"] == "fix"
        assert body["answer"]["items"] == created.json()["fix_commands"]
        assert body["fingerprint"] == created.json()["fingerprint"]
    finally:
        second.stop()
