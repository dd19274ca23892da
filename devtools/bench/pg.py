"""A throwaway PostgreSQL cluster (Debian's server) and the two hold patterns order systems use.

`PgCluster` runs initdb into a temporary folder and `pg_ctl start` on a free port (as the
`postgres` user when we are root: initdb refuses root), and removes it all on `stop`.

Patterns, each a reserve (hold) then a commit of that hold, in its own transaction:
- `for_update`: BEGIN; SELECT available ... FOR UPDATE; UPDATE stock; INSERT hold; COMMIT.
- `conditional`: one statement, `UPDATE stock ... WHERE available >= qty RETURNING`, chained
  to the hold's INSERT in a CTE (autocommit).
An oversell is a hold accepted beyond the stock: counted from the accepted holds and the
final row, never prevented by a CHECK constraint (which would hide the race, not count it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

from ops.stack.ports import free_port

PG_START_TIMEOUT_S = 60
# Kafka on this stack acknowledges from the page cache (no fsync per write), so the
# comparable PostgreSQL setting is an asynchronous commit (WAL flushed within ~200 ms).
PG_SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c max_connections=300 -c synchronous_commit=off "
    "-c shared_buffers=128MB"
)

SCHEMA = """
CREATE TABLE stock (
    sku text PRIMARY KEY,
    available integer NOT NULL,
    reserved integer NOT NULL DEFAULT 0,
    committed integer NOT NULL DEFAULT 0
);
CREATE TABLE holds (
    hold_id text PRIMARY KEY,
    sku text NOT NULL,
    qty integer NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


def _bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        raise RuntimeError("bench: PostgreSQL server not installed (apt-get install postgresql)")
    return found[-1].parent


@dataclass
class PgCluster:
    root: Path
    port: int
    bin_dir: Path
    as_user: str | None

    @classmethod
    def start(cls) -> PgCluster:
        bin_dir = _bin_dir()
        as_user = "postgres" if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="tally-bench-pg-"))
        cluster = cls(root, free_port(), bin_dir, as_user)
        if as_user is not None:
            entry = pwd.getpwnam(as_user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        cluster._run("initdb", "-D", str(root / "data"), "-A", "trust", "-U", "postgres",
                     "--no-sync", "-E", "UTF8")  # fmt: skip
        cluster._run(
            "pg_ctl", "-D", str(root / "data"), "-l", str(root / "server.log"), "-w",
            "-t", str(PG_START_TIMEOUT_S), "-o",
            f"-p {cluster.port} -k {root} {PG_SERVER_OPTIONS}", "start",
        )  # fmt: skip
        return cluster

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bin_dir / tool), *args]
        if self.as_user is not None:
            argv = ["runuser", "-u", self.as_user, "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=PG_START_TIMEOUT_S + 30)

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def version(self) -> str:
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else "?"

    def reset(self, sku: str, stock_units: int) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS stock, holds")
            conn.execute(SCHEMA)
            conn.execute("INSERT INTO stock (sku, available) VALUES (%s, %s)", (sku, stock_units))

    def final_row(self, sku: str) -> tuple[int, int, int, int]:
        """available, reserved, committed, holds not 'rejected'."""
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT available, reserved, committed FROM stock WHERE sku = %s", (sku,)
            ).fetchone()
            held = conn.execute("SELECT count(*) FROM holds WHERE sku = %s", (sku,)).fetchone()
            assert row is not None and held is not None
            return int(row[0]), int(row[1]), int(row[2]), int(held[0])

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


async def reserve_for_update(conn: psycopg.AsyncConnection[object], sku: str, hold_id: str) -> bool:
    async with conn.transaction():
        cur = await conn.execute("SELECT available FROM stock WHERE sku = %s FOR UPDATE", (sku,))
        row = await cur.fetchone()
        assert row is not None
        available = int(row[0])  # type: ignore[index]
        if available < 1:
            return False
        # The value computed by the application, written back under the row lock.
        await conn.execute(
            "UPDATE stock SET available = %s, reserved = reserved + 1 WHERE sku = %s",
            (available - 1, sku),
        )
        await conn.execute(
            "INSERT INTO holds (hold_id, sku, qty, status) VALUES (%s, %s, 1, 'pending')",
            (hold_id, sku),
        )
        return True


async def commit_for_update(conn: psycopg.AsyncConnection[object], sku: str, hold_id: str) -> None:
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE holds SET status = 'committed' WHERE hold_id = %s AND status = 'pending' "
            "RETURNING qty",
            (hold_id,),
        )
        row = await cur.fetchone()
        if row is None:
            return
        await conn.execute(
            "UPDATE stock SET reserved = reserved - %s, committed = committed + %s WHERE sku = %s",
            (row[0], row[0], sku),  # type: ignore[index]
        )


_RESERVE_CONDITIONAL = """
WITH taken AS (
    UPDATE stock SET available = available - 1, reserved = reserved + 1
    WHERE sku = %(sku)s AND available >= 1
    RETURNING sku
)
INSERT INTO holds (hold_id, sku, qty, status)
SELECT %(hold_id)s, sku, 1, 'pending' FROM taken
RETURNING hold_id
"""
_COMMIT_CONDITIONAL = """
WITH done AS (
    UPDATE holds SET status = 'committed'
    WHERE hold_id = %(hold_id)s AND status = 'pending'
    RETURNING sku, qty
)
UPDATE stock SET reserved = stock.reserved - done.qty, committed = stock.committed + done.qty
FROM done WHERE stock.sku = done.sku
"""


async def reserve_conditional(
    conn: psycopg.AsyncConnection[object], sku: str, hold_id: str
) -> bool:
    cur = await conn.execute(_RESERVE_CONDITIONAL, {"sku": sku, "hold_id": hold_id})
    return await cur.fetchone() is not None


async def commit_conditional(conn: psycopg.AsyncConnection[object], sku: str, hold_id: str) -> None:
    await conn.execute(_COMMIT_CONDITIONAL, {"hold_id": hold_id})
