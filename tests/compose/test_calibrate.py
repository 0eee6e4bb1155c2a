"""`poolkit calibrate` live against the stack's real PostgreSQL (issue "poolkit calibrate"):
it refuses the streaming standby before it writes anything, and on the primary it measures,
fits and drops its scratch schema. The unit tests replay saved runs; these run pgbench."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
from conftest import PORTS, ROOT

SCHEMA = "poolkit_calibrate"


def calibrate(settings: dict, port_key: str, *args: str) -> subprocess.CompletedProcess:
    """The CLI as a user runs it: the DSN without its password, which comes from PGPASSWORD
    (so it is in no process's argv)."""
    dsn = (
        f"host=127.0.0.1 port={PORTS[port_key]} dbname={settings['POOLKIT_DATABASE']} "
        f"user={settings['POOLKIT_APP_USER']} connect_timeout=10"
    )
    return subprocess.run(
        [sys.executable, "-m", "poolkit", "calibrate", dsn, *args],
        cwd=ROOT,
        env={**os.environ, "PGPASSWORD": settings["POOLKIT_APP_PASSWORD"]},
        capture_output=True,
        text=True,
        timeout=300,
    )


def scratch_schemas(settings: dict, port_key: str) -> int:
    with psycopg.connect(
        host="127.0.0.1",
        port=PORTS[port_key],
        dbname=settings["POOLKIT_DATABASE"],
        user=settings["POOLKIT_APP_USER"],
        password=settings["POOLKIT_APP_PASSWORD"],
        connect_timeout=10,
    ) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (SCHEMA,)
        ).fetchone()
    return count


def test_calibrate_refuses_the_streaming_standby_before_writing(stack):
    run = calibrate(stack, "POOLKIT_POSTGRES_REPLICA_PORT", "--max-clients", "8")
    assert run.returncode != 0, run.stdout[-2000:]
    assert "is a standby (pg_is_in_recovery() is true)" in run.stderr, run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert scratch_schemas(stack, "POOLKIT_POSTGRES_PORT") == 0


def test_calibrate_measures_the_primary_and_drops_its_scratch_schema(stack):
    run = calibrate(
        stack,
        "POOLKIT_POSTGRES_PORT",
        "--max-clients",
        "8",
        "--time-budget",
        "30",
        "--format",
        "json",
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    result = json.loads(run.stdout)
    print(f"\ncalibrate on the stack's primary: {json.dumps(result, sort_keys=True)[:600]}")
    levels = [point["concurrency"] for point in result["points"]]
    assert levels == [1, 2, 4, 8], result
    assert all(point["mean_tps"] > 0 for point in result["points"]), result
    # Four short levels may fit poorly; then the floor stands and the reason says so. Either way
    # the block to paste into the topology names a concurrency.
    assert result["calibration"]["useful_concurrency"] >= 1, result
    assert result["reason"], result
    assert scratch_schemas(stack, "POOLKIT_POSTGRES_PORT") == 0
