"""Fixtures for the HA scenarios (`ha` on Debian 13, `ha-bookworm` on Debian 12): the members
by name (the inventory's `patroni` group), their Patroni REST API (read from inside a member,
verified against the lab CA), and SQL on the leader. A scenario that passes `-m core` runs
only the proofs in CORE."""

from __future__ import annotations

import json
import os
import shlex
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from journal import journal_hook
from load import release_abandoned

from poolkit.clients_base import PSYCOPG_PREPARED_SINCE
from poolkit.pgbouncer_tables import parse_version

# The scenario's hosts: its Patroni members and its pooler host (group poolers).
_INVENTORY = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
MEMBERS = _INVENTORY.get_hosts("patroni")
POOLER = _INVENTORY.get_hosts("poolers")[0]
# converge.yml: synchronous_mode with synchronous_node_count 2, so a healthy cluster's
# replicas are both synchronous standbys (Patroni's /cluster role "sync_standby").
REPLICA_ROLE = "sync_standby"
PASSWORDS = {"app": "molecule-app-secret"}
CA = "/etc/poolkit/tls/ca.crt"


def member(name: str):
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={inventory}")


@pytest.fixture(scope="session")
def members():
    return {name: member(name) for name in MEMBERS}


# Runs inside a member: Python's urllib with the lab CA (and the client certificate).
_REQUEST = """
import json, ssl, sys, urllib.error, urllib.request
url, method, body, cert, ca = sys.argv[1:6]
context = ssl.create_default_context(cafile=ca)
if cert == "1":
    context.load_cert_chain("/etc/poolkit/tls/postgres.crt", "/etc/poolkit/tls/postgres.key")
request = urllib.request.Request(url, method=method, data=body.encode() or None,
                                 headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        status, text = response.status, response.read().decode()
except urllib.error.HTTPError as error:
    status, text = error.code, error.read().decode()
except OSError as error:  # not answering: status 0
    status, text = 0, str(error)
print(json.dumps({"status": status, "text": text}))
"""


def api(host, path: str, method: str = "GET", body: dict | None = None, cert: bool = False):
    """(HTTP status, parsed JSON or text) of Patroni's REST API on `host`, asked from `host`
    with the CA's verification; `cert` presents the member's postgres client certificate."""
    url = f"https://{host.backend.host}:8008{path}"
    payload = json.dumps(body) if body is not None else ""
    run = host.run(
        " ".join(
            shlex.quote(arg)
            for arg in ("python3", "-c", _REQUEST, url, method, payload, "1" if cert else "0", CA)
        )
    )
    assert run.rc == 0, run.stderr
    answer = json.loads(run.stdout)
    try:
        return answer["status"], json.loads(answer["text"])
    except json.JSONDecodeError:
        return answer["status"], answer["text"]


@pytest.fixture
def cluster(members):
    """GET /cluster from the first member that answers."""

    def get():
        for host in members.values():
            status, payload = api(host, "/cluster")
            if status == 200:
                return payload
        raise AssertionError("no member's REST API answered /cluster")

    return get


def streaming_replicas(state: dict, members: dict) -> set[str]:
    """The replicas of a /cluster answer that stream from its leader. Patroni 3.0.4 and later
    say so (state "streaming"); Patroni 3.0.2 (Debian 12) shows a replica's Patroni state,
    "running", so the leader's pg_stat_replication is asked instead."""
    replicas = [m for m in state["members"] if m["role"] != "leader"]
    names = {m["name"] for m in replicas if m.get("state") == "streaming"}
    running = {m["name"] for m in replicas if m.get("state") == "running"}
    leaders = [m["name"] for m in state["members"] if m["role"] == "leader"]
    if running and len(leaders) == 1:
        rows = members[leaders[0]].run(
            "runuser -u postgres -- psql -XAtq -c"
            " \"SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'\""
        )
        if rows.rc == 0:
            names |= running & set(rows.stdout.split())
    return names


@pytest.fixture
def wait_healthy(cluster, members):
    """Wait until the cluster has one leader and every other member streams from it as a
    synchronous standby."""

    def wait(timeout=120):
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = cluster()
            roles = sorted(m["role"] for m in state["members"])
            synchronous = {m["name"] for m in state["members"] if m["role"] == REPLICA_ROLE}
            streaming = synchronous & streaming_replicas(state, members)
            if roles.count("leader") == 1 and len(streaming) == len(MEMBERS) - 1:
                return state
            time.sleep(1)
        raise AssertionError(f"cluster not healthy after {timeout} s: {state}")

    return wait


@pytest.fixture
def leader(wait_healthy, members):
    state = wait_healthy()
    name = next(m["name"] for m in state["members"] if m["role"] == "leader")
    return name, members[name]


@pytest.fixture
def sql():
    """Run SQL as postgres over a member's Unix socket: sql(host, "SELECT ...") -> rows."""

    def run(host, query: str) -> list[list[str]]:
        result = host.run(f"runuser -u postgres -- psql -XAtqF '|' -c {shlex.quote(query)}")
        assert result.rc == 0, result.stderr
        return [line.split("|") for line in result.stdout.splitlines()]

    return run


pytest_runtest_makereport = journal_hook("patroni", "patroni journal")


@pytest.fixture
def hostvars_of(members):
    """The inventory variables of a member (its published ports)."""
    return lambda name: members[name].ansible.get_variables()


@pytest.fixture
def direct(hostvars_of):
    """A connection straight to member `name`'s PostgreSQL as app, through its published
    port: direct(name, sslmode="require", **psycopg kwargs)."""

    def connect(name: str, **kwargs):
        kwargs.setdefault("sslmode", "require")
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(
            host="127.0.0.1",
            port=hostvars_of(name)["test_pg_port"],
            dbname="app",
            user="app",
            password=PASSWORDS["app"],
            **kwargs,
        )

    return connect


FOLLOW_INCLUDE = "/etc/pgbouncer/follow.ini"
FOLLOW_STATE = "/var/lib/poolkit/pgbouncer-follow.json"


@pytest.fixture(scope="session")
def pooler():
    return member(POOLER)


@pytest.fixture
def bouncer(pooler):
    """Connect through the pooler's PgBouncer as app to app (autocommit and the database
    unless told). Below PgBouncer 1.22 psycopg prepares nothing (prepare_threshold=None, as
    `poolkit clients` says): 1.18 (Debian 12) cannot carry a prepared statement from one
    server connection to the next in transaction mode."""
    port = pooler.ansible.get_variables()["test_bouncer_port"]
    version = parse_version(pooler.check_output("pgbouncer --version"))
    prepares = tuple(int(part) for part in version.split(".")) >= PSYCOPG_PREPARED_SINCE

    def connect(**kwargs):
        if not prepares:
            kwargs.setdefault("prepare_threshold", None)
        kwargs.setdefault("connect_timeout", 10)
        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("dbname", "app")
        return psycopg.connect(
            host="127.0.0.1",
            port=port,
            user="app",
            password=PASSWORDS["app"],
            **kwargs,
        )

    return connect


@pytest.fixture
def follow_state(pooler):
    """The follower's state file (target, healthy, reason)."""
    return lambda: json.loads(pooler.file(FOLLOW_STATE).content_string)


class Writer(threading.Thread):
    """One client writing in a loop through `connect()` (a pooler), reconnecting after an
    error (after `retry_pause` s); each attempt is recorded as (time it ended, error or "")."""

    def __init__(self, connect, table: str, retry_pause: float = 0.05):
        super().__init__(daemon=True)
        self.connect = connect
        self.insert = f"INSERT INTO {table} DEFAULT VALUES"
        self.retry_pause = retry_pause
        self.results: list[tuple[float, str]] = []
        self.stop = threading.Event()

    def run(self):
        conn = None
        try:
            while not self.stop.is_set():
                try:
                    if conn is None:
                        try:
                            conn = self.connect()
                        except psycopg.Error:
                            release_abandoned()  # a timed-out attempt's socket (load.py)
                            raise
                    conn.execute(self.insert)
                    self.results.append((time.monotonic(), ""))
                except psycopg.Error as exc:
                    self.results.append((time.monotonic(), str(exc).splitlines()[0]))
                    if conn is not None:
                        conn.close()
                    conn = None
                    time.sleep(self.retry_pause)
                time.sleep(0.02)
        finally:
            if conn is not None:  # a session left open would hold a Pgpool-II child
                conn.close()


#: The proofs every release's scenario runs (marked `core`; molecule/ha-bookworm runs only
#: these): a three-member etcd, a leader and two synchronous replicas; PgBouncer following
#: the leader through switchover.yml under load and through a failover under load with no
#: acknowledged commit lost (Pgpool-II through the same failover); Pgpool-II following a
#: switchover; `poolkit status` showing the cluster.
CORE = {
    "test_cluster.py::test_etcd_is_a_three_member_cluster_and_every_member_is_healthy",
    "test_cluster.py::test_one_leader_and_two_synchronous_replicas",
    "test_cluster.py::test_a_commit_on_the_leader_reaches_every_replica",
    "test_cluster.py::test_replicas_stream_over_tls_with_the_replication_certificate",
    "test_cluster.py::test_each_replica_reads_its_own_timeline",
    "test_follow.py::test_the_follower_runs_and_points_pgbouncer_at_the_leader",
    "test_follow.py::test_pgbouncer_writes_reach_the_leader",
    "test_follow.py::test_the_read_only_pool_points_at_the_streaming_replicas",
    "test_follow.py::test_the_leaders_api_names_every_streaming_replica",
    "test_failover.py::test_an_unplanned_failover_moves_pgbouncer_and_the_old_leader_rejoins_as_a_replica",
    "test_switchover.py::test_a_switchover_under_load_fails_and_loses_no_transaction",
    "test_pgpool.py::test_pgpool_promotes_nothing",
    "test_pgpool.py::test_the_follower_runs_and_says_pgpool_is_on_the_leader",
    "test_pgpool.py::test_a_switchover_moves_pgpool_writes_to_the_new_leader",
    "test_status.py::test_status_names_the_leader_and_every_member_and_the_follower_on_it",
}


def pytest_configure(config):
    config.addinivalue_line("markers", "core: a proof every release's HA scenario runs (CORE)")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(config, items):
    """Mark CORE's tests `core`. A name in CORE whose module was collected but has no such
    test is an error: a renamed test is not silently dropped from the `-m core` scenarios."""
    found, modules = set(), set()
    for item in items:
        module = Path(item.path).name
        modules.add(module)
        name = f"{module}::{item.originalname}"
        if name in CORE:
            item.add_marker(pytest.mark.core)
            found.add(name)
    missing = {name for name in CORE - found if name.split("::")[0] in modules}
    if missing:
        raise pytest.UsageError(f"conftest.py CORE names tests that do not exist: {missing}")
