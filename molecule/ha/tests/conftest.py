"""Fixtures for the HA scenario: the members by name, their Patroni REST API (read from
inside a member, verified against the lab CA), and SQL on the leader."""

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

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from journal import journal_hook
from load import release_abandoned

MEMBERS = ["ha-pg1-trixie", "ha-pg2-trixie", "ha-pg3-trixie"]
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


@pytest.fixture
def wait_healthy(cluster):
    """Wait until the cluster has one leader and every other member streams from it as a
    synchronous standby."""

    def wait(timeout=120):
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = cluster()
            roles = sorted(m["role"] for m in state["members"])
            streaming = [
                m
                for m in state["members"]
                if m.get("state") == "streaming" and m["role"] == REPLICA_ROLE
            ]
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


POOLER = "ha-pooler-trixie"
FOLLOW_INCLUDE = "/etc/pgbouncer/follow.ini"
FOLLOW_STATE = "/var/lib/poolkit/pgbouncer-follow.json"


@pytest.fixture(scope="session")
def pooler():
    return member(POOLER)


@pytest.fixture
def bouncer(pooler):
    """Connect through the pooler's PgBouncer as app to app (autocommit and the database
    unless told)."""
    port = pooler.ansible.get_variables()["test_bouncer_port"]

    def connect(**kwargs):
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
