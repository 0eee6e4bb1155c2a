"""Operations under load lose nothing (molecule/shared/load.py: every transaction a client
saw commit is in the ledger, none it saw fail is). Each test prints its figures."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psycopg
import pytest
import testinfra
from conftest import PASSWORDS, show_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from converge import secrets_in_output
from load import Load


def assert_nothing_lost(report):
    assert report.failures == 0, report
    assert report.in_doubt == 0, report
    assert report.dropped_connections == 0, report
    assert not report.lost and not report.phantom, report
    assert report.counter_matches, report
    assert not report.stuck_clients, report


# The reload test's change, which the PAUSE window test needs too (a PAUSE longer than
# converge.yml's query_wait_timeout of 4 s): one converge for both.
LOAD_VARS = {"pgbouncer_default_pool_size": 4, "pgbouncer_query_wait_timeout": 30}


def console_config(bouncer, *keys):
    with bouncer(dbname="pgbouncer", user="pgb_admin") as console:
        return [show_config(console, key) for key in keys]


def test_reload_under_load_loses_nothing(bouncer, postgres, converge_to, main_pid):
    """Re-running the role with a new pool size and query_wait_timeout while 50 clients run:
    a reload, not a restart (same PID), both values live in SHOW CONFIG, and no failed
    transaction or dropped connection (every client stayed connected)."""
    keys = ("default_pool_size", "query_wait_timeout")
    assert console_config(bouncer, *keys) == ["3", "4"]  # converge.yml's
    before = main_pid()
    # Each client thinks 1 s between transactions: about 50 a second in all, so some are
    # always in flight through the reload, without the load taking the CPU from the converge
    # it waits for (at full speed the converge took twice as long beside other scenarios).
    # At 0.5 s (100 a second) the pool of 3 served 61 a second on a saturated machine and
    # clients queued past converge.yml's query_wait_timeout of 4 s before the reload.
    with Load(lambda: bouncer(autocommit=False), clients=50, pause_s=1.0) as load:
        load.wait_for(200)
        run = converge_to(LOAD_VARS)
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
        load.wait_for(load.committed() + 200)  # still running after the reload
    pid_after = main_pid()
    report = load.verify(postgres)
    print(f"\nreload under load (50 clients): {report}")
    assert pid_after == before
    assert console_config(bouncer, *keys) == ["4", "30"]
    assert_nothing_lost(report)
    # A reload holds no client: the longest transaction took 0.14 s alone (README), up to
    # 1.5 s beside other scenarios on 2 cores; a restart or a PAUSE around the reload would
    # take the whole converge.
    assert report.longest_stall_s < 3, report


def test_pause_window_loses_nothing(bouncer, postgres, converged_with, maintenance):
    """playbooks/maintenance.yml PAUSE, a 5 s window, RESUME: transactions started in the
    window wait and complete after RESUME; none fails. Clients wait at most
    query_wait_timeout (4 s in converge.yml), so the window needs it raised first (the
    reload test above leaves it raised)."""
    window = 5
    converged_with(LOAD_VARS)
    with Load(lambda: bouncer(autocommit=False), clients=20) as load:
        load.wait_for(100)
        pause = maintenance("pause")
        assert pause.returncode == 0, (pause.stdout + pause.stderr)[-3000:]
        time.sleep(0.5)  # commits acknowledged before PAUSE returned are counted
        at_pause = load.committed()
        time.sleep(window)
        during = load.committed() - at_pause
        resume = maintenance("resume")
        assert resume.returncode == 0, (resume.stdout + resume.stderr)[-3000:]
        load.wait_for(load.committed() + 100)
    report = load.verify(postgres)
    print(f"\npause window of {window} s (20 clients): {during} commits during it; {report}")
    assert during == 0
    assert report.longest_stall_s >= window
    assert_nothing_lost(report)


def test_verbose_run_prints_no_password(converge, converges_back):
    """ansible-playbook -vvv of the role: no configured password in its output. (It also
    converges back from the two tests above.)"""
    assert not secrets_in_output(converge(verbosity=3), PASSWORDS)
    converges_back()


def test_resume_when_nothing_is_paused_changes_nothing(maintenance):
    run = maintenance("resume")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "changed=0" in run.stdout


def test_pause_that_times_out_is_undone(bouncer, maintenance):
    """A transaction that outlasts pgbouncer_pause_timeout: the play fails naming the
    timeout, and nothing stays paused (a new client gets an answer at once)."""
    with bouncer(autocommit=False) as holder:
        holder.execute("SELECT 1")  # holds a server connection in a transaction
        run = maintenance("pause", pgbouncer_pause_timeout=2)
        holder.rollback()
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "pgbouncer_pause_timeout=2" in output, output[-3000:]
    started = time.monotonic()
    with bouncer() as client:
        assert client.execute("SELECT 1").fetchone() == (1,)
    assert time.monotonic() - started < 2


def test_unknown_maintenance_action_is_refused(maintenance):
    run = maintenance("restart")
    assert run.returncode != 0
    assert 'maintenance_action is "restart": expected pause or resume' in run.stdout + run.stderr


def test_non_admin_user_cannot_use_the_console(bouncer):
    """Only admin_users and stats_users reach the console: `app` cannot even log in to
    run SHOW POOLS or RELOAD (test_service: a stats user can SHOW but not RELOAD)."""
    with (
        pytest.raises(psycopg.OperationalError, match="not allowed"),
        bouncer(dbname="pgbouncer", user="app"),
    ):
        pass


def test_postgres_restart_is_bounded_and_loses_nothing(hostvars, bouncer):
    """PostgreSQL restarts under load: clients see errors for a bounded time (no hang past
    query_wait_timeout), new transactions through the untouched PgBouncer succeed within
    5 s of PostgreSQL accepting again, and no commit a client saw is lost."""
    pg = testinfra.get_host(
        f"ansible://{hostvars['test_pg_host']}"
        f"?ansible_inventory={os.environ['MOLECULE_INVENTORY_FILE']}"
    )
    unit = pg.run("systemctl list-units --plain --no-legend 'postgresql@*'").stdout.split()[0]
    with Load(lambda: bouncer(autocommit=False), clients=10) as load:
        load.wait_for(100)
        began = time.monotonic()
        restart = pg.run(f"systemctl restart {unit}")  # returns once PostgreSQL accepts
        accepting = time.monotonic()
        at_restart = load.committed()
        load.wait_for(at_restart + 1, timeout=30)
        recovered_s = time.monotonic() - accepting
        load.wait_for(load.committed() + 100)
    assert restart.rc == 0, restart.stderr
    with psycopg.connect(
        host="127.0.0.1",
        port=hostvars["test_pg_port"],
        dbname="app",
        user="app",
        password=PASSWORDS["app"],
    ) as direct:
        report = load.verify(direct)
    print(
        f"\nPostgreSQL restart under load (10 clients): restart took {accepting - began:.1f} s,"
        f" first commit {recovered_s:.2f} s after it accepted again; {report}"
    )
    assert recovered_s <= 5
    # converge.yml: query_wait_timeout 4 s; a client waits at most that, plus the restart.
    assert report.longest_stall_s <= (accepting - began) + 4 + 1
    assert not report.lost and not report.phantom and report.counter_matches, report
    assert not report.stuck_clients, report
