"""`poolkit calibrate` live against the stack's real PostgreSQL (issue "poolkit calibrate"):
it refuses the streaming standby before it writes anything, and on the primary it measures,
fits and drops its scratch schema. The unit tests replay saved runs; these run pgbench."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psycopg
from conftest import PORTS, ROOT

SCHEMA = "poolkit_calibrate"


def argv_env(settings: dict, port_key: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """The CLI as a user runs it: the DSN without its password, which comes from PGPASSWORD
    (so it is in no process's argv)."""
    dsn = (
        f"host=127.0.0.1 port={PORTS[port_key]} dbname={settings['POOLKIT_DATABASE']} "
        f"user={settings['POOLKIT_APP_USER']} connect_timeout=10"
    )
    env = {**os.environ, "PGPASSWORD": settings["POOLKIT_APP_PASSWORD"]}
    return [sys.executable, "-m", "poolkit", "calibrate", dsn, *args], env


def calibrate(settings: dict, port_key: str, *args: str) -> subprocess.CompletedProcess:
    argv, env = argv_env(settings, port_key, *args)
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def query(settings: dict, sql: str) -> int:
    with psycopg.connect(
        host="127.0.0.1",
        port=PORTS["POOLKIT_POSTGRES_PORT"],
        dbname=settings["POOLKIT_DATABASE"],
        user=settings["POOLKIT_APP_USER"],
        password=settings["POOLKIT_APP_PASSWORD"],
        connect_timeout=10,
    ) as conn:
        (count,) = conn.execute(sql).fetchone()
    return count


def scratch_schemas(settings: dict, port_key: str = "POOLKIT_POSTGRES_PORT") -> int:
    return query(settings, f"SELECT count(*) FROM pg_namespace WHERE nspname = '{SCHEMA}'")


def pgbench_sessions(settings: dict) -> int:
    return query(
        settings, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'"
    )


def test_calibrate_refuses_the_streaming_standby_before_writing(stack):
    run = calibrate(stack, "POOLKIT_POSTGRES_REPLICA_PORT", "--max-clients", "8")
    assert run.returncode != 0, run.stdout[-2000:]
    assert "is a standby (pg_is_in_recovery() is true)" in run.stderr, run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert scratch_schemas(stack) == 0


def test_calibrate_measures_the_primary_and_drops_its_scratch_schema(stack):
    run = calibrate(
        stack,
        "POOLKIT_POSTGRES_PORT",
        "--max-clients",
        "8",
        "--time-budget",
        "60",
        "--duration",
        "2",
        "--format",
        "json",
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    result = json.loads(run.stdout)
    print(f"\ncalibrate on the stack's primary: {json.dumps(result, sort_keys=True)[:600]}")
    levels = [point["concurrency"] for point in result["points"]]
    assert levels == [1, 2, 4, 8], result
    # The plan says pgbench shares the host it loads (here through 127.0.0.1).
    assert "note: pgbench runs on the host it connects to, 127.0.0.1 (loopback)" in run.stderr
    assert all(point["mean_tps"] > 0 for point in result["points"]), result
    # 3 passes planned, 46 s of 60: room for 2 at least, so the runs' noise is judged.
    assert all(point["repeats"] >= 2 for point in result["points"]), result
    # Four short levels on a busy machine may fit poorly: then no recommendation and no
    # block to paste (the floor stands), and the reason says why. Otherwise the block names
    # the recommendation.
    if result["recommendation"] is None:
        assert "calibration" not in result, result
        assert result["reason"], result
    else:
        assert result["calibration"]["useful_concurrency"] == result["recommendation"] >= 1
    assert scratch_schemas(stack) == 0


def test_an_interrupted_calibrate_drops_its_scratch_schema_and_stops_its_load(stack):
    """SIGTERM (systemd's stop, timeout(1)) while pgbench loads the scratch schema: the run
    ends with 130 and leaves neither the schema nor a pgbench session behind."""
    argv, env = argv_env(
        stack, "POOLKIT_POSTGRES_PORT", "--max-clients", "8", "--time-budget", "60"
    )
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not pgbench_sessions(stack):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "pgbench never started on the scratch schema"
            time.sleep(0.2)
        assert scratch_schemas(stack) == 1
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"\ninterrupted calibrate: exit {proc.returncode}; {stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert scratch_schemas(stack) == 0
    assert pgbench_sessions(stack) == 0
