"""The settings of the new releases: PgBouncer 1.25's transaction_timeout, query_wait_notify
and scram_iterations (pgbouncer_extra_settings, checked against the release's table) reach
the running process; a reloadable change reloads both poolers (same PIDs), a restart-only
change restarts them; the same settings for an older release fail before any change,
naming the variable and the release that has them."""

from __future__ import annotations

import json

import pytest
from conftest import PGBOUNCER_UNIT, PGPOOL_UNIT, main_pid_of, pgpool_show, show_config

# converge.yml's pgbouncer_extra_settings.
EXTRA = {"transaction_timeout": 30, "query_wait_notify": 3, "scram_iterations": 8192}


@pytest.mark.parametrize(("key", "value"), EXTRA.items())
def test_pgbouncer_1_25_settings_reach_the_process(console, key, value):
    assert show_config(console, key) == str(value)


def test_pgpool_4_7_writes_work_dir_not_logdir(host, pgpool):
    conf = host.file("/etc/pgpool2/pgpool.conf").content_string
    keys = {line.split("=", 1)[0].strip() for line in conf.splitlines() if "=" in line}
    assert "work_dir" in keys
    assert "logdir" not in keys
    assert pgpool_show(pgpool, "work_dir") == "/var/log/postgresql"


def state(host):
    """What a failed run must leave as it was: both configurations and both main PIDs."""
    sums = host.check_output("sha256sum /etc/pgbouncer/pgbouncer-1.ini /etc/pgpool2/pgpool.conf")
    return sums, main_pid_of(host, PGBOUNCER_UNIT), main_pid_of(host, PGPOOL_UNIT)


# (id, extra variables, what the message must name). The version variables stand for a
# host with the older release: the role then checks against that release's table.
BAD = [
    (
        "pgbouncer-1.24-transaction_timeout",
        {"pgbouncer_version": "1.24.1"},
        [
            "pgbouncer_extra_settings.transaction_timeout",
            "needs PgBouncer 1.25 or newer, this host has 1.24.1",
        ],
    ),
    (
        "pgbouncer-1.24-user-transaction_timeout",
        {
            "pgbouncer_version": "1.24.1",
            "pgbouncer_extra_settings": {},
            "pgbouncer_user_settings": [{"name": "app", "transaction_timeout": 5}],
        },
        [
            "pgbouncer_user_settings[0] (app).transaction_timeout",
            "needs PgBouncer 1.25 or newer, this host has 1.24.1",
        ],
    ),
    (
        "pgpool-4.6-recovery_database",
        {"pgpool_version": "4.6.1", "pgpool_extra_settings": {"recovery_database": "app"}},
        [
            "pgpool_extra_settings.recovery_database",
            "needs Pgpool-II 4.7 or newer, this host has 4.6.1",
        ],
    ),
    (
        "pgbouncer-1.26-query_wait_notify-fraction",
        {"pgbouncer_extra_settings": {**EXTRA, "query_wait_notify": 2.5}},
        ["pgbouncer_extra_settings.query_wait_notify", "expected a whole number"],
    ),
]


@pytest.mark.parametrize(("extra", "named"), [case[1:] for case in BAD], ids=[c[0] for c in BAD])
def test_bad_input_fails_before_any_change(host, converge, extra, named):
    before = state(host)
    run = converge(json.dumps(extra))
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    for text in named:
        assert text in output, output[-3000:]
    assert "changed=0" in output, output[-3000:]
    assert state(host) == before


# A reloadable and a restart-only setting of each pooler (PgBouncer: SHOW CONFIG's
# changeable; Pgpool-II 4.7.3: its documentation and a SIGHUP, docs/versions-forky.md).
RELOADABLE = {
    "pgbouncer_extra_settings": {**EXTRA, "query_wait_notify": 4},
    "pgpool_extra_settings": {"recovery_database": "app"},
}
RESTART_ONLY = {
    "pgbouncer_extra_settings": {**EXTRA, "query_wait_notify": 4, "listen_backlog": 200},
    "pgpool_extra_settings": {"recovery_database": "app"},
    # Pgpool-II 4.7's work_dir (logdir before), where it keeps pgpool_status.
    "pgpool_work_dir": "/var/lib/pgpool-poolkit",
}


@pytest.fixture(scope="module")
def converges_back(converge):
    """The changed configurations, converged back to converge.yml's after the module."""
    yield
    run = converge()
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]


def test_a_reloadable_change_reloads_both_poolers(host, converge, converges_back, bouncer, pgpool):
    before = main_pid_of(host, PGBOUNCER_UNIT), main_pid_of(host, PGPOOL_UNIT)
    run = converge(json.dumps(RELOADABLE))
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert (main_pid_of(host, PGBOUNCER_UNIT), main_pid_of(host, PGPOOL_UNIT)) == before
    with bouncer(dbname="pgbouncer", user="pgb_admin", prepare_threshold=None) as console:
        assert show_config(console, "query_wait_notify") == "4"
    assert pgpool_show(pgpool, "recovery_database") == "app"


def test_a_restart_only_change_restarts_both_poolers(
    host, converge, converges_back, bouncer, pgpool
):
    before = main_pid_of(host, PGBOUNCER_UNIT), main_pid_of(host, PGPOOL_UNIT)
    run = converge(json.dumps(RESTART_ONLY))
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    after = main_pid_of(host, PGBOUNCER_UNIT), main_pid_of(host, PGPOOL_UNIT)
    print(f"\nmain PIDs (PgBouncer, Pgpool-II): {before} -> {after}")
    assert after[0] != before[0]
    assert after[1] != before[1]
    with bouncer(dbname="pgbouncer", user="pgb_admin", prepare_threshold=None) as console:
        assert show_config(console, "listen_backlog") == "200"
    assert pgpool_show(pgpool, "work_dir") == "/var/lib/pgpool-poolkit"
    assert host.file("/var/lib/pgpool-poolkit/pgpool_status").exists
