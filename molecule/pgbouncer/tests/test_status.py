"""`poolkit status` against the real PgBouncer: an induced exhaustion (app_tiny's one server
connection held in an open transaction while more clients wait) exits 2 and names the pool
and the leak suspect; once the transaction ends, it exits 0."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from conftest import PASSWORDS
from psycopg.rows import dict_row

POOLKIT = str(Path(sys.executable).with_name("poolkit"))


def status(hostvars, *options):
    conninfo = (
        f"host=127.0.0.1 port={hostvars['test_bouncer_port']} user=pgb_stats "
        f"password={PASSWORDS['pgb_stats']}"
    )
    return subprocess.run(
        [POOLKIT, "status", "--pgbouncer", conninfo, "--leak-after", "1", "--wait-critical",
         "1", *[f"--accept-advisory={cve}" for cve in hostvars["pgbouncer_accepted_advisories"]],
         *options],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )  # fmt: skip


def waiting_clients(bouncer, database):
    with bouncer(dbname="pgbouncer", user="pgb_stats", row_factory=dict_row) as console:
        pools = console.execute("SHOW POOLS").fetchall()
    return sum(p["cl_waiting"] for p in pools if p["database"] == database)


def test_status_names_the_exhausted_pool_and_the_leak_suspect(bouncer, hostvars):
    done, errors = [], []

    def wait_for_a_server():
        try:
            with bouncer(dbname="app_tiny", application_name="patient-client") as conn:
                conn.execute("SELECT 1")
                done.append(time.monotonic())
        except psycopg.Error as exc:
            errors.append(f"{time.monotonic() - started:.1f} s after they started: {exc}")

    # app_tiny: one server connection, query_wait_timeout 4 s (converge.yml). The waiters
    # must get the server before that fires, so the test waits on PgBouncer's own counters
    # rather than fixed sleeps, and runs the two status calls side by side (each is a new
    # Python process: seconds on a loaded machine).
    with bouncer(dbname="app_tiny", application_name="leaky-worker") as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT 1")  # holds the pool's only server connection, idle in tx
        time.sleep(1.2)  # idle in transaction longer than --leak-after 1
        waiters = [threading.Thread(target=wait_for_a_server) for _ in range(2)]
        started = time.monotonic()
        for waiter in waiters:
            waiter.start()
        # Their connects may take seconds on a loaded machine: wait until both are queued
        # (this bounds the setup, not PgBouncer; query_wait_timeout counts from the queue).
        deadline = started + 10
        while (queued := waiting_clients(bouncer, "app_tiny")) < 2:
            assert time.monotonic() < deadline, (
                f"{queued} of 2 clients queued for app_tiny 10 s after they started: {errors}"
            )
            time.sleep(0.05)
        print(f"\nboth clients queued {time.monotonic() - started:.1f} s after they started")
        with ThreadPoolExecutor(2) as pool:
            exhausted, in_json = pool.map(lambda opts: status(hostvars, *opts), [(), ("--json",)])
        holder.execute("COMMIT")
        released = time.monotonic()
    for waiter in waiters:
        waiter.join(timeout=10)
    as_json, held = json.loads(in_json.stdout), released - started
    print(f"\n--- poolkit status, pool exhausted (exit {exhausted.returncode}):")
    print(exhausted.stdout)
    assert exhausted.returncode == 2, exhausted.stdout + exhausted.stderr
    assert "CRITICAL  pool app_tiny/app" in exhausted.stdout
    assert "2 client(s) waiting for a server connection" in exhausted.stdout
    (suspects,) = [f for f in as_json["findings"] if "leak suspect" in f["message"]]
    assert suspects["subject"] == "pool app_tiny/app"
    assert suspects["message"].startswith("1 leak suspect")
    assert [line.split()[1] for line in suspects["details"]] == ["leaky-worker"]
    assert not errors and len(done) == 2, (
        f"the waiters did not get the server released {held:.1f} s after they started: {errors}"
    )
    assert max(done) - released < 2

    recovered = status(hostvars)
    print(f"--- after COMMIT (exit {recovered.returncode}):")
    print(recovered.stdout)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
