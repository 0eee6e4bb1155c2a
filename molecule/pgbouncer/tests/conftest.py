"""Fixtures for the PgBouncer scenario: DSNs through PgBouncer and straight to Postgres,
the journal of the host under test on failure, and re-running the role from a test."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from converge import converge as run_converge
from converge import run_playbook
from journal import journal_hook
from probes import show_config  # noqa: F401 (the tests import it from here)
from xdist_groups import pytest_collection_modifyitems  # noqa: F401 (a hook)

# converge.yml's throwaway test passwords (containers on 127.0.0.1 only).
PASSWORDS = {
    "app": "molecule-app-secret",
    "pgb_admin": "molecule-admin-secret",
    "pgb_stats": "molecule-stats-secret",
}


@pytest.fixture
def hostvars(host):
    return host.ansible.get_variables()


@pytest.fixture
def bouncer(hostvars):
    """Connect through PgBouncer: bouncer(dbname='app', user='app', **psycopg kwargs)."""

    def connect(dbname="app", user="app", password=None, **kwargs):
        kwargs.setdefault("autocommit", True)
        if not hostvars["test_max_prepared_statements"]:
            # PgBouncer 1.18 cannot carry prepared statements across server connections in
            # transaction mode: psycopg's documented setting is to prepare nothing.
            kwargs.setdefault("prepare_threshold", None)
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(
            host="127.0.0.1",
            port=hostvars["test_bouncer_port"],
            dbname=dbname,
            user=user,
            password=PASSWORDS.get(user) if password is None else password,
            **kwargs,
        )

    return connect


@pytest.fixture
def postgres(hostvars):
    """A direct connection to the backend, to watch pg_stat_activity."""
    conn = psycopg.connect(
        host="127.0.0.1",
        port=hostvars["test_pg_port"],
        dbname="app",
        user="app",
        password=PASSWORDS["app"],
        autocommit=True,
    )
    yield conn
    conn.close()


@pytest.fixture
def server_count(postgres):
    """Server connections PgBouncer holds for the pool tagged `application_name`."""

    def count(application_name):
        return postgres.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchone()[0]

    return count


@pytest.fixture
def wait_pool_drained(server_count):
    """Wait until no server connection of the pool is left (server_idle_timeout = 4 s)."""

    def wait(application_name, timeout=15):
        deadline = time.monotonic() + timeout
        while server_count(application_name) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert server_count(application_name) == 0, f"{application_name} never drained"

    return wait


def main_pid_of(host, unit="pgbouncer@1.service") -> int:
    return int(host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip())


@pytest.fixture
def main_pid(host):
    return lambda unit="pgbouncer@1.service": main_pid_of(host, unit)


# Pooler hosts a test left on variables other than converge.yml's (inventory names), with
# those variables (canonical JSON) when a test recorded them (`converge_to`), else None.
CHANGED: dict[str, str | None] = {}


@pytest.fixture
def own_config(host):
    """For a test that converges its host with variables of its own and does not converge
    back: the next test that needs converge.yml's configuration does it first, so tests
    that change the configuration one after another share one way back (a converge takes
    about a minute while other scenarios run)."""
    CHANGED[host.backend.host] = None


@pytest.fixture
def converges_back(host):
    """For a test that converges its host with converge.yml's own variables: it calls
    converges_back() once that converge succeeded."""
    return lambda: CHANGED.pop(host.backend.host, None)


def canonical(extra: dict) -> str:
    return json.dumps(extra, sort_keys=True)


@pytest.fixture
def converge_to(host, converge):
    """converge_to(extra): converge the host with these extra variables (from converge.yml's
    configuration: this test waits for it) and remember them, so that a later test asking
    `converged_with` the same variables runs no converge of its own."""
    name = host.backend.host

    def run(extra: dict):
        result = converge(json.dumps(extra))
        if result.returncode == 0:
            CHANGED[name] = canonical(extra)
        return result

    return run


@pytest.fixture
def converged_with(host, converge):
    """converged_with(extra): the host converged with these extra variables, by a converge
    only when the test before did not leave it so (`converge_to`)."""
    name = host.backend.host

    def ensure(extra: dict):
        if name in CHANGED and CHANGED[name] == canonical(extra):
            return
        result = converge(json.dumps(extra))
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        CHANGED[name] = canonical(extra)

    return ensure


@pytest.fixture(autouse=True)
def converge_yml_configuration(request):
    """Every test on a host starts from converge.yml's configuration, converged back first
    when an `own_config` test left it changed; tests that converge the host themselves
    (`own_config`, `converges_back`, `converged_with`) do not wait for that."""
    if "host" not in request.fixturenames:
        return
    if {"own_config", "converges_back", "converged_with"} & set(request.fixturenames):
        return
    back_to_converge_yml(request.getfixturevalue("host").backend.host)


def back_to_converge_yml(name):
    """Converge the pooler host `name` back when a test left it changed."""
    if name in CHANGED:
        run = run_converge(name)
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
        del CHANGED[name]


@pytest.fixture(scope="module")
def converge(host):
    """Re-run converge.yml on this pooler host with extra variables; returns the process."""
    return lambda extra_vars=None, verbosity=0: run_converge(
        host.backend.host, extra_vars, verbosity
    )


@pytest.fixture
def maintenance(host):
    """Run playbooks/maintenance.yml on this pooler host: maintenance("pause", **vars)."""

    def run(action, **extra):
        extra_vars = json.dumps({"maintenance_action": action, **extra})
        return run_playbook(Path("playbooks/maintenance.yml"), host.backend.host, extra_vars)

    return run


@pytest.fixture(scope="module")
def rolling_restart(host):
    """Run playbooks/rolling-restart.yml on this pooler host with extra variables."""

    def run(**extra):
        return run_playbook(
            Path("playbooks/rolling-restart.yml"), host.backend.host, json.dumps(extra)
        )

    return run


pytest_runtest_makereport = journal_hook("pgbouncer@*", "pgbouncer journal")
