"""PgBouncer follows the Patroni leader through `poolkit follow`: its database points at the
running leader, a switchover moves it with no human step and leaves no server connection on
the old leader, and while Patroni does not answer it keeps the last target and says so. The
read-only pool (app_ro, `follow: replicas`) points at the streaming replicas (all of them,
or one where PgBouncer cannot verify a host list's certificates): reads land there, writes
are refused, and after the switchover it names the new replicas."""

from __future__ import annotations

import time

import psycopg
from conftest import FOLLOW_INCLUDE, MEMBERS, api

from poolkit.pgbouncer import host_lists_connect, parse_version
from poolkit.switchover import reports_receivers, streams


def points_at(pooler) -> str:
    for line in pooler.file(FOLLOW_INCLUDE).content_string.splitlines():
        if line.startswith("app = "):
            return line.split("host=", 1)[1].split()[0]
    raise AssertionError(f"no app line in {FOLLOW_INCLUDE}")


def reads_on(pooler) -> list[str]:
    """The hosts the read-only pool app_ro points at (follow.ini)."""
    for line in pooler.file(FOLLOW_INCLUDE).content_string.splitlines():
        if line.startswith("app_ro = "):
            return line.split("host=", 1)[1].split()[0].split(",")
    raise AssertionError(f"no app_ro line in {FOLLOW_INCLUDE}")


def host_lists(pooler) -> bool:
    """Whether app_ro names every replica (a host list) or one of them: PgBouncer before
    1.25 cannot verify-full a host list (poolkit.pgbouncer.host_lists_connect)."""
    version = parse_version(pooler.check_output("pgbouncer --version"))
    sslmode = pooler.ansible.get_variables()["pgbouncer_server_tls_sslmode"]
    return host_lists_connect(version, sslmode)


def reads_fit(pooler, replicas: list[str]) -> bool:
    """app_ro points at every one of `replicas` (host lists), or at one of them."""
    hosts = reads_on(pooler)
    if host_lists(pooler):
        return hosts == sorted(replicas)
    return len(hosts) == 1 and hosts[0] in replicas


def wait_reads_on(pooler, replicas: list[str], timeout: float = 60) -> float | None:
    """Seconds until app_ro fits `replicas` (`reads_fit`), or None."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if reads_fit(pooler, replicas):
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def test_the_follower_runs_and_points_pgbouncer_at_the_leader(pooler, leader):
    assert pooler.service("poolkit-pgbouncer-follow").is_running
    assert points_at(pooler) == leader[0]


def test_pgbouncer_writes_reach_the_leader(bouncer, leader):
    with bouncer() as conn:
        assert conn.execute("SELECT NOT pg_is_in_recovery()").fetchone() == (True,)
        conn.execute("CREATE TABLE IF NOT EXISTS follow_probe (at timestamptz DEFAULT now())")
        conn.execute("INSERT INTO follow_probe DEFAULT VALUES")


def test_the_read_only_pool_points_at_the_streaming_replicas(pooler, leader, follow_state):
    replicas = sorted(m for m in MEMBERS if m != leader[0])
    assert wait_reads_on(pooler, replicas, timeout=10) is not None, reads_on(pooler)
    assert follow_state()["replica_hosts"] == reads_on(pooler)
    print(f"\napp_ro on {reads_on(pooler)} (host lists: {host_lists(pooler)})")


def test_the_leaders_api_names_every_streaming_replica(leader, cluster):
    """Where /cluster shows no WAL receiver state (Patroni 3.0.2), poolkit takes the leader's
    GET /patroni `replication` rows to tell which replicas stream (switchover.yml's candidate,
    app_ro's hosts): each replica is there under its member name, streaming, and `streams`
    agrees with them on this release's own answers."""
    name, host = leader
    status, state = api(host, "/patroni")
    assert status == 200, state
    rows = state.get("replication", [])
    streaming = sorted(r["application_name"] for r in rows if r.get("state") == "streaming")
    assert streaming == sorted(set(MEMBERS) - {name}), rows
    view = cluster()
    replicas = [m for m in view["members"] if m["name"] != name]
    assert all(streams(m, view["members"], rows) for m in replicas), view
    print(f"\n/cluster reports receiver states: {reports_receivers(view['members'])}")


def test_reads_through_the_read_only_pool_reach_its_replicas_and_writes_fail(pooler, bouncer):
    """Four transactions held at once take all four server connections of app_ro's pool,
    opened round-robin over its replicas (each replica's slot is its member name): both
    replicas with a host list, the one it names otherwise."""
    connections = [bouncer(dbname="app_ro", autocommit=False) for _ in range(4)]
    try:
        seen = [
            conn.execute(
                "SELECT pg_is_in_recovery(), current_setting('primary_slot_name')"
            ).fetchone()
            for conn in connections
        ]
    finally:
        for conn in connections:
            conn.close()
    print(f"\napp_ro, four transactions at once: {seen}")
    assert all(in_recovery for in_recovery, _ in seen), seen
    slots = {slot for _, slot in seen}
    assert slots == {host.replace("-", "_") for host in reads_on(pooler)}, seen
    with bouncer(dbname="app_ro") as conn:
        try:
            conn.execute("INSERT INTO follow_probe DEFAULT VALUES")
        except psycopg.errors.ReadOnlySqlTransaction:
            pass
        else:
            raise AssertionError("a write through app_ro succeeded")


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
    # The read-only pool: the new leader out, the old one in once it streams again.
    took = wait_reads_on(pooler, [m for m in MEMBERS if m != new])
    print(f"app_ro on the new replicas {took if took is not None else float('nan'):.1f} s later")
    assert took is not None, f"app_ro points at {reads_on(pooler)}, not at every replica of {new}"


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
    since = pooler.check_output("date +%s").strip()
    assert pooler.run("systemctl restart poolkit-pgbouncer-follow").rc == 0
    # Its first line, once Python has started (up to seconds on a loaded host).
    deadline, journal = time.monotonic() + 20, ""
    while time.monotonic() < deadline and "starting from" not in journal:
        time.sleep(0.5)
        journal = pooler.check_output(
            f"journalctl -u poolkit-pgbouncer-follow --no-pager -o cat --since @{since}"
        )
    assert f"starting from {leader[0]}" in journal
    assert pooler.file(FOLLOW_INCLUDE).content_string == before
