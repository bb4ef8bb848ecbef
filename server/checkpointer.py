"""The thread store: a LangGraph checkpointer, SQLite under ``IDP_DATA_DIR`` or PostgreSQL.

Async savers (``AsyncSqliteSaver`` over aiosqlite, ``AsyncPostgresSaver`` over a psycopg
pool): the service runs the graph with ``ainvoke``/``astream`` on its event loop, so the
thread store's I/O is awaited there, while LangGraph runs the (sync, blocking) graph nodes in
its worker threads. A sync saver would either block the loop on every checkpoint write or
force the whole run into a thread, which loses the per-node stream.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from langgraph.checkpoint.base import BaseCheckpointSaver

if TYPE_CHECKING:
    from idp.settings import Settings

log = logging.getLogger(__name__)

SQLITE_FILE = "threads.sqlite"
POOL_MAX = 10


def describe_store(settings: Settings) -> str:
    """Where threads live, without credentials."""
    if settings.database_url is not None:
        from urllib.parse import urlsplit

        url = urlsplit(settings.database_url.get_secret_value())
        host = url.hostname or "unix socket"
        return f"postgres:{host}{':' + str(url.port) if url.port else ''}{url.path}"
    return f"sqlite:{settings.data_dir / SQLITE_FILE}"


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """The configured saver, set up (tables created) and closed on exit."""
    if settings.database_url is not None:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(
            settings.database_url.get_secret_value(),
            max_size=POOL_MAX,
            # What AsyncPostgresSaver needs: autocommit, dict rows, no server-side prepares
            # (safe behind PgBouncer in transaction mode).
            kwargs={"autocommit": True, "prepare_threshold": None, "row_factory": dict_row},
            open=False,
        )
        await pool.open(wait=True, timeout=10)
        try:
            postgres = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
            await postgres.setup()
            yield postgres
        finally:
            await pool.close()
        return
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(str(settings.data_dir / SQLITE_FILE))
    try:
        # WAL: readers do not wait for the writer; a crash loses at most the last transaction.
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        yield saver
    finally:
        await conn.close()
