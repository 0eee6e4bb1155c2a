"""Operations under load lose nothing (molecule/shared/load.py: every transaction a client
saw commit is in the ledger, none it saw fail is). Each test prints its figures."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import psycopg
import pytest
from conftest import PASSWORDS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from load import Load


def assert_nothing_lost(report):
    assert report.failures == 0, report
    assert report.in_doubt == 0, report
    assert report.dropped_connections == 0, report
    assert not report.lost and not report.phantom, report
    assert report.counter_matches, report


def test_reload_under_load_loses_nothing(bouncer, postgres, converge, main_pid):
    """Re-running the role with a new pool size while 50 clients run: a reload, not a
    restart (same PID), and no failed transaction or dropped connection."""
    before = main_pid()
    try:
        with Load(lambda: bouncer(autocommit=False), clients=50) as load:
            load.wait_for(200)
            run = converge(json.dumps({"pgbouncer_default_pool_size": 4}))
            assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
            load.wait_for(load.committed() + 200)  # still running after the reload
        pid_after = main_pid()
    finally:
        restore = converge()
    report = load.verify(postgres)
    print(f"\nreload under load (50 clients): {report}")
    assert restore.returncode == 0, (restore.stdout + restore.stderr)[-3000:]
    assert pid_after == before
    assert_nothing_lost(report)


def test_pause_window_loses_nothing(bouncer, postgres, converge, maintenance):
    """playbooks/maintenance.yml PAUSE, a 5 s window, RESUME: transactions started in the
    window wait and complete after RESUME; none fails. Clients wait at most
    query_wait_timeout (4 s in converge.yml), so the window needs it raised first."""
    window = 5
    raised = converge(json.dumps({"pgbouncer_query_wait_timeout": 30}))
    assert raised.returncode == 0, (raised.stdout + raised.stderr)[-3000:]
    try:
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
    finally:
        restore = converge()
    report = load.verify(postgres)
    print(f"\npause window of {window} s (20 clients): {during} commits during it; {report}")
    assert restore.returncode == 0, (restore.stdout + restore.stderr)[-3000:]
    assert during == 0
    assert report.longest_stall_s >= window
    assert_nothing_lost(report)


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


def test_verbose_run_prints_no_password(converge):
    """ansible-playbook -vvv of the role: no configured password in its output."""
    run = converge(verbosity=3)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert len(output) > 10_000  # -vvv really was verbose
    leaked = [user for user, password in PASSWORDS.items() if password in output]
    assert not leaked, f"passwords of {leaked} in the -vvv output"
