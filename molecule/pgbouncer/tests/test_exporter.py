"""The PgBouncer exporter the role deploys (pgbouncer_exporter_enabled, Debian 13 host):
prometheus-community's pgbouncer_exporter per process, logged in as the stats user over the
process's unix socket, its password a systemd credential and nowhere on disk in plaintext.
Debian 12's refusal is a case of test_bad_input.py; two processes' exporters are in
test_processes.py."""

from __future__ import annotations

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
