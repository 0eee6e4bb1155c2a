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


def test_the_password_is_on_disk_only_encrypted(host):
    credential = "/etc/poolkit/credentials/pgpool-exporter.password"
    assert_stored_encrypted(host, PASSWORDS["pgpool_monitor"], credential)


def test_a_credential_that_no_longer_decrypts_is_replaced(host, converge):
    """As after a re-installed host (a new host key): library/poolkit_credential.py finds
    the stored file does not decrypt, encrypts the password again and the handler restarts
    the exporter, which then logs in with it."""
    credential = "/etc/poolkit/credentials/pgpool-exporter.password"
    metrics(host)
    started = host.run(
        "systemctl show -p ActiveEnterTimestampMonotonic --value poolkit-pgpool-exporter"
    ).stdout.strip()
    assert host.run(f"echo not-a-credential > {credential}").rc == 0
    run = converge()
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    task = run.stdout.split("Store the exporter's password encrypted", 1)[1].split("TASK", 1)[0]
    assert "changed: [" in task, run.stdout[-3000:]
    assert host.run(f"systemd-creds decrypt --name=password {credential} - >/dev/null").rc == 0
    assert_stored_encrypted(host, PASSWORDS["pgpool_monitor"], credential)
    restarted = host.run(
        "systemctl show -p ActiveEnterTimestampMonotonic --value poolkit-pgpool-exporter"
    ).stdout.strip()
    assert int(restarted) > int(started)
    assert "pgpool2_up 1.0" in metrics(host)


def test_disabling_the_exporter_removes_it(host, converge):
    if "bookworm" in host.backend.host:
        pytest.skip("runs on the Debian 13 host: removal does not depend on the release")
    try:
        off = converge(json.dumps({"pgpool_exporter_enabled": False}))
        assert off.returncode == 0, (off.stdout + off.stderr)[-3000:]
        assert not host.file("/etc/systemd/system/poolkit-pgpool-exporter.service").exists
        assert not host.file("/etc/poolkit/credentials/pgpool-exporter.password").exists
        assert not host.file("/opt/poolkit/pgpool/lib").exists
        assert host.run(FETCH).rc != 0
    finally:
        restore = converge()
    assert restore.returncode == 0, (restore.stdout + restore.stderr)[-3000:]
    assert "pgpool2_up 1.0" in metrics(host)
