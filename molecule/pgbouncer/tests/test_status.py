"""`poolkit status` against the real PgBouncer: an induced exhaustion (app_tiny's one server
connection held in an open transaction while more clients wait) exits 2 and names the pool
and the leak suspect; once the transaction ends, it exits 0."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import PASSWORDS

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


def test_status_names_the_exhausted_pool_and_the_leak_suspect(bouncer, hostvars):
    done = []

    def wait_for_a_server():
        with bouncer(dbname="app_tiny", application_name="patient-client") as conn:
            conn.execute("SELECT 1")
            done.append(time.monotonic())

    # app_tiny: one server connection, query_wait_timeout 4 s (converge.yml).
    with bouncer(dbname="app_tiny", application_name="leaky-worker") as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT 1")  # holds the pool's only server connection, idle in tx
        time.sleep(1.2)
        waiters = [threading.Thread(target=wait_for_a_server) for _ in range(2)]
        for waiter in waiters:
            waiter.start()
        time.sleep(1.5)
        exhausted = status(hostvars)
        as_json = json.loads(status(hostvars, "--json").stdout)
        holder.execute("COMMIT")
        released = time.monotonic()
    for waiter in waiters:
        waiter.join(timeout=10)
    print(f"\n--- poolkit status, pool exhausted (exit {exhausted.returncode}):")
    print(exhausted.stdout)
    assert exhausted.returncode == 2, exhausted.stdout + exhausted.stderr
    assert "CRITICAL  pool app_tiny/app" in exhausted.stdout
    assert "2 client(s) waiting for a server connection" in exhausted.stdout
    (suspects,) = [f for f in as_json["findings"] if "leak suspect" in f["message"]]
    assert suspects["subject"] == "pool app_tiny/app"
    assert suspects["message"].startswith("1 leak suspect")
    assert [line.split()[1] for line in suspects["details"]] == ["leaky-worker"]
    assert len(done) == 2 and max(done) - released < 2, "the waiters did not get the server"

    recovered = status(hostvars)
    print(f"--- after COMMIT (exit {recovered.returncode}):")
    print(recovered.stdout)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
