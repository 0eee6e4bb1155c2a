"""`poolkit status` on the pooler host shows the cluster (leader, each member's role, state
and lag) and whether the follower points at the leader: critical when it does not."""

from __future__ import annotations

import json
import shlex

from conftest import FOLLOW_STATE, MEMBERS, REPLICA_ROLE

STATUS = (
    "PYTHONPATH=/opt/poolkit/lib python3 -m poolkit status --patroni-ca /etc/poolkit/tls/ca.crt "
    + " ".join(f"--patroni https://{member}:8008" for member in MEMBERS)
)


def status(pooler, state_file: str = FOLLOW_STATE, *extra: str):
    return pooler.run(f"{STATUS} --follow-state {shlex.quote(state_file)} {' '.join(extra)}")


def test_status_names_the_leader_and_every_member_and_the_follower_on_it(
    pooler, leader, wait_healthy
):
    state = wait_healthy()  # the replicas stream: "streaming", or Patroni 3.0.2's "running"
    run = status(pooler)
    assert run.rc == 0, run.stdout + run.stderr
    assert f"Patroni cluster: leader {leader[0]};" in run.stdout
    for member in MEMBERS:
        assert member in run.stdout
    replicas = [m for m in state["members"] if m["role"] != "leader"]
    assert len(replicas) == len(MEMBERS) - 1, state
    for replica in replicas:  # each with Patroni's own role and state
        assert f"{replica['name']} {REPLICA_ROLE} {replica['state']} lag" in run.stdout, run.stdout
    assert f"points at {leader[0]}" in run.stdout


def test_status_is_critical_when_the_follower_points_at_a_replica(pooler, leader):
    replica = next(m for m in MEMBERS if m != leader[0])
    state = json.loads(pooler.file(FOLLOW_STATE).content_string)
    state["target_host"] = replica
    path = "/var/tmp/poolkit-status-test.json"
    assert pooler.run(f"printf '%s' {shlex.quote(json.dumps(state))} > {path}").rc == 0
    run = status(pooler, path, "--json")
    assert run.rc == 2, run.stdout + run.stderr
    findings = json.loads(run.stdout)["findings"]
    assert [(f["severity"], f["subject"]) for f in findings] == [("critical", "follower target")]
    assert f"points at {replica}, not at the leader {leader[0]}" in findings[0]["message"]


def test_status_finds_pgpool_primary_on_the_leader(pooler, leader):
    """Pgpool-II's primary (SHOW POOL_NODES) is compared with the leader: no finding while
    they agree (the follower keeps them so; test_crash.py and test_pgpool.py move them)."""
    pgpool = "host=127.0.0.1 port=9999 user=pgpool_check dbname=postgres"
    run = pooler.run(
        f"PGPASSWORD=molecule-check-secret {STATUS} --pgpool {shlex.quote(pgpool)} --json"
    )
    findings = json.loads(run.stdout)["findings"]
    # No "connection" finding: it queried Pgpool-II; no "primary" finding: on the leader.
    assert [f for f in findings if f["subject"] in ("primary", "connection")] == [], findings
