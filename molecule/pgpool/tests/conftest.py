"""Fixtures for the Pgpool-II scenario: connections through Pgpool-II and straight to the
backends, PCP commands on the Pgpool-II host, and its journal on failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from converge import converge as run_converge
from converge import run_playbook
from journal import journal_hook
from probes import wait_for  # noqa: F401 (the tests import it from here)
from xdist_groups import pytest_collection_modifyitems  # noqa: F401 (a hook)

# converge.yml's throwaway test passwords (containers on 127.0.0.1 only).
PASSWORDS = {
    "app": "molecule-app-secret",
    "pgpool_check": "molecule-check-secret",
    "pgpool_monitor": "molecule-monitor-secret",
    "pcpadmin": "molecule-pcp-secret",
    "pool_key": "molecule-pool-key",
}


@pytest.fixture
def hostvars(host):
    return host.ansible.get_variables()


@pytest.fixture
def pgpool(hostvars):
    """Connect through Pgpool-II: pgpool(dbname='app', user='app', **psycopg kwargs)."""

    def connect(dbname="app", user="app", password=None, **kwargs):
        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(
            host="127.0.0.1",
            port=hostvars["test_pgpool_port"],
            dbname=dbname,
            user=user,
            password=PASSWORDS[user] if password is None else password,
            **kwargs,
        )

    return connect


@pytest.fixture
def pgpool_status(hostvars):
    """Run `poolkit status --pgpool` against this Pgpool-II (its exit code and report)."""
    conninfo = (
        f"host=127.0.0.1 port={hostvars['test_pgpool_port']} dbname=app user=app "
        f"password={PASSWORDS['app']}"
    )
    poolkit = str(Path(sys.executable).with_name("poolkit"))
    return lambda: subprocess.run(
        [poolkit, "status", "--pgpool", conninfo],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def backend(hostvars):
    """A direct connection to the primary or the replica."""
    opened = []

    def connect(which="primary"):
        conn = psycopg.connect(
            host="127.0.0.1",
            port=hostvars[f"test_{which}_port"],
            dbname="app",
            user="app",
            password=PASSWORDS["app"],
            autocommit=True,
        )
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


@pytest.fixture
def pcp(host):
    """Run a PCP command on the Pgpool-II host with the PCP user's password file."""

    def run(command):
        passfile = "/tmp/pcppass-test"
        host.run(
            f"install -m 0600 /dev/null {passfile} && "
            f"echo 'localhost:9898:pcpadmin:{PASSWORDS['pcpadmin']}' > {passfile}"
        )
        return host.run(f"PCPPASSFILE={passfile} {command} -h localhost -p 9898 -U pcpadmin -w")

    return run


@pytest.fixture
def other_host(hostvars):
    """A testinfra host for the primary or replica container of this release."""

    def get(which):
        inventory = os.environ["MOLECULE_INVENTORY_FILE"]
        return testinfra.get_host(
            f"ansible://{hostvars[f'test_{which}_host']}?ansible_inventory={inventory}"
        )

    return get


@pytest.fixture
def converge(host):
    """Re-run converge.yml on this Pgpool-II host with extra variables."""
    return lambda extra_vars=None, verbosity=0: run_converge(
        host.backend.host, extra_vars, verbosity
    )


@pytest.fixture
def attach(host, hostvars):
    """Run playbooks/pgpool-attach.yml on this Pgpool-II host. The molecule inventory does
    not hold converge.yml's variables: the backends and the PCP user are passed along."""
    extra = {
        "pgpool_backends": [
            {"hostname": hostvars["test_primary_host"], "port": 5432},
            {"hostname": hostvars["test_replica_host"], "port": 5432},
        ],
        "pgpool_pcp_users": [{"name": "pcpadmin", "password": PASSWORDS["pcpadmin"]}],
    }
    return lambda: run_playbook(
        Path("playbooks/pgpool-attach.yml"), host.backend.host, json.dumps(extra)
    )


def pool_nodes(conn):
    cur = conn.execute("SHOW POOL_NODES")
    cols = [c.name for c in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


pytest_runtest_makereport = journal_hook("pgpool2", "pgpool journal")
