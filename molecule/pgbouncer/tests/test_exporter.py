"""The PgBouncer exporter the role deploys (pgbouncer_exporter_enabled, Debian 13 host):
prometheus-community's pgbouncer_exporter per process, logged in as the stats user over the
process's unix socket, its password a systemd credential and nowhere on disk in plaintext.
Debian 12's refusal is a case of test_bad_input.py."""

from __future__ import annotations

import json
import re
import time

import pytest
from conftest import PASSWORDS
from credentials import assert_stored_encrypted
from psycopg.rows import dict_row

FETCH = (
    "python3 -c 'import sys, urllib.request; "
    'sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:%d/metrics", timeout=5)'
    ".read().decode())'"
)


@pytest.fixture(autouse=True)
def exporter_host(hostvars):
    if not hostvars["test_exporter"]:
        pytest.skip("the exporter runs on the Debian 13 host (Debian 12: test_bad_input.py)")


def metrics(host, port: int, timeout: float = 30) -> str:
    """The exporter's page once it answers with pgbouncer_up 1 (it restarts every 5 s until
    PgBouncer answers)."""
    deadline = time.monotonic() + timeout
    while True:
        run = host.run(FETCH % port)
        if run.rc == 0 and re.search(r"^pgbouncer_up 1$", run.stdout, re.M):
            return run.stdout
        assert time.monotonic() < deadline, (
            f"no pgbouncer_up 1 on :{port}: {run.stdout[-500:]}{run.stderr[-500:]}"
        )
        time.sleep(1)


def test_the_exporter_serves_pool_metrics_of_its_process(host, bouncer):
    metrics(host, 9127)
    with bouncer() as client:
        client.execute("SELECT 1")
        page = metrics(host, 9127)
    pool = r'^pgbouncer_pools_client_active_connections\{database="app",user="app"\} (\d+)$'
    assert int(re.search(pool, page, re.M).group(1)) >= 1, page
    assert re.search(r"^pgbouncer_config_max_client_connections 60$", page, re.M)


def test_the_exporter_logs_in_as_the_stats_user_over_the_unix_socket(host, bouncer):
    metrics(host, 9127)
    with bouncer(dbname="pgbouncer", user="pgb_stats", row_factory=dict_row) as console:
        rows = console.execute("SHOW CLIENTS").fetchall()
    exporter = [row for row in rows if row["database"] == "pgbouncer" and row["addr"] == "unix"]
    assert exporter, rows
    assert {row["user"] for row in exporter} == {"pgb_stats"}


def test_the_password_is_on_disk_only_encrypted(host):
    secret = PASSWORDS["pgb_stats"]
    assert_stored_encrypted(host, secret, "/etc/poolkit/credentials/pgbouncer-exporter.password")
    unit = host.run("systemctl cat poolkit-pgbouncer-exporter@1.service").stdout
    assert "LoadCredentialEncrypted=password:" in unit
    assert secret not in unit


def test_a_rolling_restart_drains_each_process_without_waiting_for_its_exporter(
    host, converge, rolling_restart
):
    """An exporter's console session would hold SHUTDOWN WAIT_FOR_CLIENTS open until
    pgbouncer_drain_timeout, then the process would be stopped by a signal: the rolling
    restart stops each process's exporter first, so each process exits by itself, and
    starts the exporter again with it. Two processes also set tcp_migrate_req."""
    try:
        two = converge(json.dumps({"pgbouncer_processes": 2}))
        assert two.returncode == 0, (two.stdout + two.stderr)[-3000:]
        assert host.sysctl("net.ipv4.tcp_migrate_req") == 1
        for port in (9127, 9128):
            metrics(host, port)  # each exporter now holds a console session
        since = host.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
        run = rolling_restart(pgbouncer_processes=2, pgbouncer_drain_timeout=60)
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
        journal = host.run(
            f"journalctl --no-pager -u pgbouncer@1 -u pgbouncer@2 --since '{since}'"
        ).stdout
        assert journal.count("SHUTDOWN WAIT_FOR_CLIENTS") == 2, journal[-3000:]
        assert "got SIGINT" not in journal, journal[-3000:]
        for port in (9127, 9128):
            assert "pgbouncer_up 1" in metrics(host, port)
    finally:
        restore = converge()
    assert restore.returncode == 0, (restore.stdout + restore.stderr)[-3000:]


def test_one_exporter_per_process_and_none_once_disabled(host, converge):
    try:
        two = converge(json.dumps({"pgbouncer_processes": 2}))
        assert two.returncode == 0, (two.stdout + two.stderr)[-3000:]
        assert "pgbouncer_up 1" in metrics(host, 9127)
        assert "pgbouncer_up 1" in metrics(host, 9128)
        off = converge(json.dumps({"pgbouncer_exporter_enabled": False}))
        assert off.returncode == 0, (off.stdout + off.stderr)[-3000:]
        units = host.run(
            "systemctl list-units --all --plain --no-legend 'poolkit-pgbouncer-exporter@*'"
        )
        assert units.stdout.strip() == ""
        assert not host.file("/etc/poolkit/credentials/pgbouncer-exporter.password").exists
        assert host.run(FETCH % 9127).rc != 0
    finally:
        restore = converge()
    assert restore.returncode == 0, (restore.stdout + restore.stderr)[-3000:]
    assert "pgbouncer_up 1" in metrics(host, 9127)
