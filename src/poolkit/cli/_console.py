"""SHOW commands of PgBouncer's admin console and Pgpool-II, over the simple query protocol.

PgBouncer's console speaks only the simple protocol, and Pgpool-II 4.3.5 answers SHOW
POOL_PROCESSES with no rows over the extended protocol that psycopg's cursors use (measured:
psql and PQexec get every child). So the rows come from PQexec, as text.
"""

from __future__ import annotations

from typing import Any


def show(conn: Any, command: str) -> list[dict[str, str | None]]:
    """The rows of `command` as ``{column: text or None}``; psycopg.Error when it fails."""
    import psycopg
    from psycopg.pq import ExecStatus

    result = conn.pgconn.exec_(command.encode())
    if result.status != ExecStatus.TUPLES_OK:
        message = (result.error_message or b"").decode(errors="replace").strip()
        raise psycopg.OperationalError(f"{command}: {message or result.status.name}")
    names = [result.fname(i).decode() for i in range(result.nfields)]
    rows = []
    for row in range(result.ntuples):
        values = [result.get_value(row, col) for col in range(result.nfields)]
        rows.append(
            dict(zip(names, (None if v is None else v.decode() for v in values), strict=True))
        )
    return rows
