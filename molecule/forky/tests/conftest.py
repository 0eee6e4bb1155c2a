"""Fixtures for the forky scenario: connections through PgBouncer 1.26.1, through Pgpool-II
4.7.3 and straight to PostgreSQL 18, the main PIDs of both poolers, re-running
converge.yml from a test, and both poolers' journals on failure."""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from converge import converge as run_converge
from journal import journal_hook
from probes import show_config, wait_for  # noqa: F401 (the tests import them from here)

# converge.yml's throwaway test passwords (containers on 127.0.0.1 only).
PASSWORDS = {
    "app": "molecule-app-secret",
    "pgb_admin": "molecule-admin-secret",
    "pgb_stats": "molecule-stats-secret",
    "pgpool_check": "molecule-check-secret",
}
PGBOUNCER_UNIT = "pgbouncer@1.service"
PGPOOL_UNIT = "pgpool2.service"


@pytest.fixture
def hostvars(host):
    return host.ansible.get_variables()


def _connector(port: int):
    def connect(dbname="app", user="app", password=None, **kwargs):
        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(
            host="127.0.0.1",
            port=port,
            dbname=dbname,
            user=user,
            password=PASSWORDS[user] if password is None else password,
            **kwargs,
        )

    return connect


@pytest.fixture
def bouncer(hostvars):
    """Connect through PgBouncer: bouncer(dbname='app', user='app', **psycopg kwargs)."""
    return _connector(hostvars["test_bouncer_port"])


@pytest.fixture
def pgpool(hostvars):
    """Connect through Pgpool-II: pgpool(dbname='app', user='app', **psycopg kwargs)."""
    return _connector(hostvars["test_pgpool_port"])


@pytest.fixture
def postgres(hostvars):
    """A direct connection to PostgreSQL, to watch pg_stat_activity."""
    conn = _connector(hostvars["test_pg_port"])()
    yield conn
    conn.close()


@pytest.fixture
def console(bouncer):
    """PgBouncer's admin console (SHOW commands). The console speaks only the simple query
    protocol: psycopg must never prepare a statement repeated there (its fifth run would)."""
    conn = bouncer(dbname="pgbouncer", user="pgb_admin", prepare_threshold=None)
    yield conn
    conn.close()


def pgpool_show(pgpool, key) -> str:
    """One setting's value as the running Pgpool-II reports it (PGPOOL SHOW)."""
    with pgpool() as conn:
        return conn.execute(f"PGPOOL SHOW {key}").fetchone()[0]


def main_pid_of(host, unit) -> int:
    return int(host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip())


@pytest.fixture(scope="module")
def converge(host):
    """Re-run converge.yml on this pooler host with extra variables (JSON); the process."""
    return lambda extra_vars=None, verbosity=0: run_converge(
        host.backend.host, extra_vars, verbosity
    )


pytest_runtest_makereport = journal_hook(
    "pgbouncer@* pgpool2.service", "PgBouncer and Pgpool-II journal"
)
