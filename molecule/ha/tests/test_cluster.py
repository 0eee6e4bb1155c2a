"""The lab's Patroni cluster is what the issue asks for: a three-member etcd, one leader and
two streaming replicas, members that replicate with certificates (no password stored), SCRAM
logins over TLS only, and a switchover that needs a client certificate."""

from __future__ import annotations

import json
import time

import psycopg
import pytest
import yaml
from conftest import MEMBERS, REPLICA_ROLE, api

ETCD = ",".join(f"https://{name}:2379" for name in MEMBERS)
TLS = "/etc/poolkit/tls"
# The members' client certificate (CN postgres), as Patroni presents it.
ETCDCTL = f"etcdctl --cacert={TLS}/ca.crt --cert={TLS}/postgres.crt --key={TLS}/postgres.key"


def test_etcd_is_a_three_member_cluster_and_every_member_is_healthy(members):
    host = members[MEMBERS[0]]
    listed = host.run(f"{ETCDCTL} --endpoints={ETCD} member list -w json")
    assert listed.rc == 0, listed.stderr
    members_listed = json.loads(listed.stdout)["members"]
    assert sorted(m["name"] for m in members_listed) == MEMBERS
    # Peers talk TLS too: every advertised peer and client URL is https.
    for member in members_listed:
        assert all(url.startswith("https://") for url in member["peerURLs"]), member
        assert all(url.startswith("https://") for url in member["clientURLs"]), member
    health = host.run(f"{ETCDCTL} --endpoints={ETCD} endpoint health")
    assert health.rc == 0, health.stderr
    assert health.stderr.count("is healthy") + health.stdout.count("is healthy") == 3


@pytest.mark.parametrize(
    "client",
    [
        pytest.param(f"etcdctl --endpoints=http://{MEMBERS[0]}:2379", id="plain-http"),
        pytest.param(
            f"etcdctl --cacert={TLS}/ca.crt --endpoints=https://{MEMBERS[0]}:2379",
            id="tls-without-certificate",
        ),
    ],
)
def test_etcd_refuses_clients_without_tls_or_a_certificate(members, client):
    refused = members[MEMBERS[1]].run(f"{client} --dial-timeout=3s --command-timeout=5s get /x")
    assert refused.rc != 0, refused.stdout


def test_one_leader_and_two_synchronous_replicas(wait_healthy, leader, sql):
    state = wait_healthy()
    by_role = sorted(m["role"] for m in state["members"])
    assert by_role == ["leader", REPLICA_ROLE, REPLICA_ROLE], state
    sync = sql(
        leader[1], "SELECT application_name FROM pg_stat_replication WHERE sync_state = 'sync'"
    )
    assert sorted(row[0] for row in sync) == sorted(set(MEMBERS) - {leader[0]})
    assert {m["name"] for m in state["members"]} == set(MEMBERS)


def test_a_commit_on_the_leader_reaches_every_replica(leader, members, sql):
    name, host = leader
    token = f"t{time.time_ns()}"
    sql(host, "CREATE TABLE IF NOT EXISTS ha_probe (token text)")
    sql(host, f"INSERT INTO ha_probe VALUES ('{token}')")
    for other, replica in members.items():
        if other == name:
            continue
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows = sql(replica, f"SELECT count(*) FROM ha_probe WHERE token = '{token}'")
            if rows == [["1"]]:
                break
            time.sleep(0.2)
        assert rows == [["1"]], f"{other} never saw the commit"
        assert sql(replica, "SELECT pg_is_in_recovery()") == [["t"]]


def test_replicas_stream_over_tls_with_the_replication_certificate(leader, sql):
    _, host = leader
    rows = sql(
        host,
        "SELECT r.usename, s.ssl, s.client_dn FROM pg_stat_replication r"
        " JOIN pg_stat_ssl s USING (pid) ORDER BY r.application_name",
    )
    assert rows == [["replicator", "t", "/CN=replicator"]] * 2, rows


def test_each_replica_reads_its_own_timeline(leader, members):
    # Patroni asks its own server for the timeline (IDENTIFY_SYSTEM on a replication
    # connection), reports it in /patroni and reads it to decide on pg_rewind. Over TCP that
    # connection went to "localhost", which no member certificate names: verify-full
    # refused it, /patroni said "timeline": null. Over the socket it needs no certificate.
    name, host = leader
    status, primary = api(host, "/patroni")
    assert status == 200 and isinstance(primary.get("timeline"), int), primary
    for other, replica in members.items():
        if other == name:
            continue
        status, state = api(replica, "/patroni")
        assert status == 200, state
        assert state.get("timeline") == primary["timeline"], (other, state)


def test_no_member_stores_a_password(members):
    for name, host in members.items():
        config = host.file("/etc/patroni/config.yml")
        assert config.mode == 0o640 and config.group == "postgres", name
        assert not list(keys_named("password", yaml.safe_load(config.content_string))), name
        pgpass = host.run("cat /var/lib/postgresql/.pgpass_patroni 2>/dev/null").stdout
        # Patroni writes its passfile only when a password is set: none, or an empty field.
        for line in pgpass.splitlines():
            assert line.endswith(":"), f"{name}: {line.rsplit(':', 1)[0]}:<password>"
        assert "PASSWORD" not in host.file("/etc/default/etcd").content_string.upper(), name


def keys_named(name: str, tree):
    """Every value under a key `name`, anywhere in a parsed YAML tree."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key == name:
                yield value
            yield from keys_named(name, value)
    elif isinstance(tree, list):
        for item in tree:
            yield from keys_named(name, item)


@pytest.mark.parametrize("sslmode", ["disable"])
def test_app_logins_need_tls(leader, direct, sslmode):
    name, _ = leader
    with pytest.raises(psycopg.OperationalError, match=r"no pg_hba\.conf entry"):
        direct(name, sslmode=sslmode, connect_timeout=5)


def test_app_logs_in_with_scram_over_tls(leader, direct):
    name, _ = leader
    with direct(name, require_auth="scram-sha-256", connect_timeout=5) as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert conn.execute("SELECT NOT pg_is_in_recovery()").fetchone() == (True,)


def test_postgres_cannot_log_in_over_the_network_with_a_password(leader, hostvars_of):
    name, _ = leader
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(
            host="127.0.0.1",
            port=hostvars_of(name)["test_pg_port"],
            dbname="postgres",
            user="postgres",
            password="anything",
            sslmode="require",
            connect_timeout=5,
        )


def test_a_switchover_needs_a_client_certificate_and_the_old_leader_follows(
    leader, members, wait_healthy
):
    name, host = leader
    candidate = next(m for m in MEMBERS if m != name)
    body = {"leader": name, "candidate": candidate}
    status, payload = api(host, "/switchover", "POST", body)
    assert status == 403, payload
    status, payload = api(host, "/switchover", "POST", body, cert=True)
    assert status == 200, payload
    state = wait_healthy()
    assert next(m["name"] for m in state["members"] if m["role"] == "leader") == candidate
    assert {m["name"] for m in state["members"] if m.get("state") == "streaming"} == set(
        MEMBERS
    ) - {candidate}
