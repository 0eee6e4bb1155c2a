"""PgBouncer follows the Patroni leader through `poolkit follow`: its database points at the
running leader, a switchover moves it with no human step and leaves no server connection on
the old leader, and while Patroni does not answer it keeps the last target and says so."""

from __future__ import annotations

import time

import psycopg
from conftest import FOLLOW_INCLUDE, MEMBERS, api


def points_at(pooler) -> str:
    for line in pooler.file(FOLLOW_INCLUDE).content_string.splitlines():
        if line.startswith("app = "):
            return line.split("host=", 1)[1].split()[0]
    raise AssertionError(f"no app line in {FOLLOW_INCLUDE}")


def test_the_follower_runs_and_points_pgbouncer_at_the_leader(pooler, leader):
    assert pooler.service("poolkit-pgbouncer-follow").is_running
    assert points_at(pooler) == leader[0]


def test_pgbouncer_writes_reach_the_leader(bouncer, leader):
    with bouncer() as conn:
        assert conn.execute("SELECT NOT pg_is_in_recovery()").fetchone() == (True,)
        conn.execute("CREATE TABLE IF NOT EXISTS follow_probe (at timestamptz DEFAULT now())")
        conn.execute("INSERT INTO follow_probe DEFAULT VALUES")


def test_the_state_file_names_the_target_and_says_healthy(follow_state, leader):
    state = follow_state()
    assert (state["target_host"], state["healthy"]) == (leader[0], True), state


def write_through(bouncer) -> bool:
    try:
        with bouncer(connect_timeout=2) as conn:
            conn.execute("INSERT INTO follow_probe DEFAULT VALUES")
        return True
    except psycopg.Error:
        return False


def test_a_switchover_moves_pgbouncer_to_the_new_leader(
    pooler, leader, bouncer, members, wait_healthy, sql
):
    old, host = leader
    new = next(m for m in MEMBERS if m != old)
    assert write_through(bouncer)
    started = time.monotonic()
    status, payload = api(host, "/switchover", "POST", {"leader": old, "candidate": new}, True)
    reported = time.monotonic()
    assert status == 200, payload
    repointed = committed = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and committed is None:
        if repointed is None and points_at(pooler) == new:
            repointed = time.monotonic()
        if repointed is not None and write_through(bouncer):
            committed = time.monotonic()
        time.sleep(0.1)
    print(
        f"\nswitchover {old} -> {new}: Patroni answered after {reported - started:.1f} s; "
        f"PgBouncer repointed {repointed - reported if repointed else float('nan'):.1f} s and "
        f"first commit through it {committed - reported if committed else float('nan'):.1f} s "
        "after that"
    )
    assert repointed is not None, f"the follower never pointed at {new}"
    assert committed is not None, "no commit through PgBouncer after the switchover"
    assert repointed - reported < 5
    wait_healthy()
    time.sleep(1)  # a released server connection closes at the next janitor pass (1/3 s)
    left = sql(
        members[old], "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pool_app'"
    )
    assert left == [["0"]], f"{left[0][0]} server connections still on the old leader {old}"


def test_with_patroni_unreachable_the_follower_keeps_its_target(
    pooler, members, bouncer, follow_state, leader
):
    target = points_at(pooler)
    for host in members.values():
        assert host.run("systemctl kill --kill-whom=main -s SIGSTOP patroni").rc == 0
    try:
        time.sleep(3)  # below ttl: the leader keeps its lock
        state = follow_state()
        assert (state["target_host"], state["healthy"]) == (target, False), state
        assert "no Patroni endpoint answered" in state["reason"]
        assert points_at(pooler) == target
        assert write_through(bouncer)
        journal = pooler.run("journalctl -u poolkit-pgbouncer-follow --no-pager -n 20").stdout
        assert f"keeping {target}" in journal
    finally:
        for host in members.values():
            host.run("systemctl kill --kill-whom=main -s SIGCONT patroni")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not follow_state()["healthy"]:
        time.sleep(0.5)
    assert follow_state()["healthy"], follow_state()


def test_a_restarted_follower_starts_from_its_last_target(pooler, leader):
    before = pooler.file(FOLLOW_INCLUDE).content_string
    assert pooler.run("systemctl restart poolkit-pgbouncer-follow").rc == 0
    time.sleep(2)
    journal = pooler.run("journalctl -u poolkit-pgbouncer-follow --no-pager -n 5").stdout
    assert f"starting from {leader[0]}" in journal
    assert pooler.file(FOLLOW_INCLUDE).content_string == before
