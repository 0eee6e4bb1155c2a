"""Two PgBouncer processes sharing one port (pgbouncer_processes: 2). The module converges
to two processes once, runs its tests on them in file order, and its last test converges
back to converge.yml's single process (each test used to converge there and back)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from test_exporter import FETCH, metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from load import Load

UNITS = ["pgbouncer@1.service", "pgbouncer@2.service"]
DRAIN_S = 10  # pgbouncer_drain_timeout of the rolling restart below


def output(run) -> str:
    return (run.stdout + run.stderr)[-3000:]


@pytest.fixture(scope="module")
def two_processes(host, converge):
    """The host with two processes, for the module's tests (each also asks `own_config`:
    none waits for converge.yml's configuration)."""
    two = converge(json.dumps({"pgbouncer_processes": 2}))
    assert two.returncode == 0, output(two)


@pytest.fixture
def exporter_host(hostvars):
    if not hostvars["test_exporter"]:
        pytest.skip("the exporter runs on the Debian 13 host (Debian 12: test_bad_input.py)")


def test_one_exporter_per_process(host, own_config, two_processes, exporter_host):
    assert "pgbouncer_up 1" in metrics(host, 9127)
    assert "pgbouncer_up 1" in metrics(host, 9128)


def test_two_processes_set_tcp_migrate_req(host, own_config, two_processes):
    """A closing process's queued connections move to the other one (Linux 5.14+)."""
    assert host.sysctl("net.ipv4.tcp_migrate_req") == 1


def test_a_rolling_restart_drains_each_process_without_waiting_for_its_exporter(
    host, own_config, two_processes, exporter_host, rolling_restart
):
    """An exporter's console session would hold SHUTDOWN WAIT_FOR_CLIENTS open until
    pgbouncer_drain_timeout, then the process would be stopped by a signal: the rolling
    restart stops each process's exporter first, so each process exits by itself, and
    starts the exporter again with it."""
    for port in (9127, 9128):
        metrics(host, port)  # each exporter now holds a console session
    since = host.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    run = rolling_restart(pgbouncer_processes=2, pgbouncer_drain_timeout=60)
    assert run.returncode == 0, output(run)
    journal = host.run(
        f"journalctl --no-pager -u pgbouncer@1 -u pgbouncer@2 --since '{since}'"
    ).stdout
    assert journal.count("SHUTDOWN WAIT_FOR_CLIENTS") == 2, journal[-3000:]
    assert "got SIGINT" not in journal, journal[-3000:]
    for port in (9127, 9128):
        assert "pgbouncer_up 1" in metrics(host, port)


def test_rolling_restart_under_reconnecting_load(
    host, own_config, two_processes, bouncer, postgres, rolling_restart, main_pid
):
    """playbooks/rolling-restart.yml across 2 processes while clients reconnect for every
    transaction (serverless, PHP): on 1.23+ no connection or transaction fails; on 1.18
    (no SHUTDOWN WAIT_FOR_CLIENTS) a connection that lands on the stopping process is
    closed, but no transaction is cut or lost."""
    before = [main_pid(unit) for unit in UNITS]
    since = host.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    with Load(lambda: bouncer(autocommit=False), clients=10, reconnect_each=True) as load:
        load.wait_for(100)
        began = time.monotonic()
        run = rolling_restart(pgbouncer_processes=2, pgbouncer_drain_timeout=DRAIN_S)
        took = time.monotonic() - began
        load.wait_for(load.committed() + 100)
    after = [main_pid(unit) for unit in UNITS]
    report = load.verify(postgres)
    version = host.run("dpkg-query -W -f='${Version}' pgbouncer").stdout
    print(
        f"\nrolling restart of 2 processes (PgBouncer {version}, 10 clients reconnecting per"
        f" transaction): playbook {took:.1f} s; {report}"
    )
    assert run.returncode == 0, output(run)
    assert all(a != b for a, b in zip(after, before, strict=True)), (before, after)
    assert report.in_doubt == 0 and not report.lost and not report.phantom, report
    assert report.counter_matches, report
    assert not report.stuck_clients, report
    if not version.startswith("1.18"):
        assert report.failures == 0, report
        # Each process drained by itself, within DRAIN_S: none was stopped by the signal
        # that ends a drain at its timeout. (The playbook's duration is printed, not bounded:
        # 15-28 s alone, 53-80 s beside other scenarios on 2 cores, all of it Ansible.)
        journal = host.run(
            f"journalctl --no-pager -u pgbouncer@1 -u pgbouncer@2 --since '{since}'"
        ).stdout
        assert journal.count("SHUTDOWN WAIT_FOR_CLIENTS") == 2, journal[-3000:]
        assert "got SIGINT" not in journal, journal[-3000:]


def test_no_exporter_once_disabled(host, own_config, two_processes, exporter_host, converge):
    off = converge(json.dumps({"pgbouncer_processes": 2, "pgbouncer_exporter_enabled": False}))
    assert off.returncode == 0, output(off)
    units = host.run(
        "systemctl list-units --all --plain --no-legend 'poolkit-pgbouncer-exporter@*'"
    )
    assert units.stdout.strip() == ""
    assert not host.file("/etc/poolkit/credentials/pgbouncer-exporter.password").exists
    assert host.run(FETCH % 9127).rc != 0
    assert host.run(FETCH % 9128).rc != 0


def test_back_to_one_process_stops_the_second(host, hostvars, converge, converges_back):
    """The module's last test: converge.yml's variables again, one process (and on the
    Debian 13 host its exporter)."""
    run = converge()
    assert run.returncode == 0, output(run)
    converges_back()
    assert host.service("pgbouncer@1.service").is_running
    assert not host.service("pgbouncer@2.service").is_running
    if hostvars["test_exporter"]:
        assert "pgbouncer_up 1" in metrics(host, 9127)
        assert host.run(FETCH % 9128).rc != 0
