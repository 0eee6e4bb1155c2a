"""The Pgpool-II exporter the role deploys (pgpool_exporter_enabled, both releases):
`poolkit pgpool-exporter` as poolkit-pgpool-exporter.service, run by Debian's python3 from
the copied package, logged in through Pgpool-II's unix socket as pgpool_monitor, its
password a systemd credential and nowhere on disk in plaintext."""

from __future__ import annotations

import json
import re
import time

import pytest
from conftest import PASSWORDS
from credentials import assert_stored_encrypted

CREDENTIAL = "/etc/poolkit/credentials/pgpool-exporter.password"
FETCH = (
    "python3 -c 'import sys, urllib.request; "
    'sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:9719/metrics", timeout=10)'
    ".read().decode())'"
)


def metrics(host, timeout: float = 30) -> str:
    """The exporter's page once it answers with pgpool2_up 1."""
    deadline = time.monotonic() + timeout
    while True:
        run = host.run(FETCH)
        if run.rc == 0 and re.search(r"^pgpool2_up 1\.0$", run.stdout, re.M):
            return run.stdout
        assert time.monotonic() < deadline, (
            f"no pgpool2_up 1 on :9719: {run.stdout[-800:]}{run.stderr[-800:]}"
        )
        time.sleep(1)


def test_the_exporter_reports_both_backends_up_and_the_frontend_slots(host):
    page = metrics(host)
    up = re.findall(r"^pgpool2_pool_nodes_status\{[^}]*\} 1\.0$", page, re.M)
    assert len(up) == 2, page
    # converge.yml: num_init_children 6, reserved_connections 1.
    assert re.search(r"^pgpool2_frontend_total 6\.0$", page, re.M), page


def test_the_exporter_runs_as_a_dynamic_user_with_the_copied_package(host):
    metrics(host)
    unit = host.run(
        "systemctl show -p User -p DynamicUser -p Environment poolkit-pgpool-exporter.service"
    ).stdout
    assert "DynamicUser=yes" in unit
    assert "PYTHONPATH=/opt/poolkit/pgpool/lib" in unit
    assert host.file("/opt/poolkit/pgpool/lib/poolkit/cli/pgpool_exporter.py").exists


def exporter_started(host) -> int:
    return int(
        host.run(
            "systemctl show -p ActiveEnterTimestampMonotonic --value poolkit-pgpool-exporter"
        ).stdout.strip()
    )


def test_the_password_is_on_disk_only_encrypted(host):
    assert_stored_encrypted(host, PASSWORDS["pgpool_monitor"], CREDENTIAL)


# A credential that no longer decrypts is replaced: test_pgpool.py, on the -vvv converge it
# shares with test_verbose_run_prints_no_password_or_key (one converge fewer per host).


def test_disabling_the_exporter_removes_it(host, converge):
    if "bookworm" in host.backend.host:
        pytest.skip("runs on the Debian 13 host: removal does not depend on the release")
    try:
        off = converge(json.dumps({"pgpool_exporter_enabled": False}))
        assert off.returncode == 0, (off.stdout + off.stderr)[-3000:]
        assert not host.file("/etc/systemd/system/poolkit-pgpool-exporter.service").exists
        assert not host.file(CREDENTIAL).exists
        assert not host.file("/opt/poolkit/pgpool/lib").exists
        assert host.run(FETCH).rc != 0
    finally:
        restore = converge()
    assert restore.returncode == 0, (restore.stdout + restore.stderr)[-3000:]
    assert "pgpool2_up 1.0" in metrics(host)
