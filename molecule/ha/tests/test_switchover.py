"""playbooks/switchover.yml: a planned switchover under load with PgBouncer paused around it
(resumed by the follower the moment it points at the new leader) loses and fails no
transaction; so does one through PgBouncer in front of Pgpool-II (held until Pgpool-II is
on the new leader); a candidate that is not a member is refused before any
change; a pause that outlasts pgbouncer_pause_limit is undone by the host itself."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from conftest import FOLLOW_INCLUDE, MEMBERS, POOLER
from test_follow import points_at
from test_pgpool import pgpool_events, wait_following

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from converge import run_playbook
from load import Load

SWITCHOVER = Path("playbooks/switchover.yml")
MAINTENANCE = Path("playbooks/maintenance.yml")


def paused(pooler) -> dict[str, str]:
    """SHOW DATABASES of process 1: {database: paused flag}."""
    run = pooler.run(
        "runuser -u postgres -- psql -X -A -F '|' -h /run/pgbouncer/1 -p 6432 -U pgbouncer"
        " -d pgbouncer -c 'SHOW DATABASES'"
    )
    assert run.rc == 0, run.stderr
    header, *rows = [line.split("|") for line in run.stdout.splitlines() if "|" in line]
    column = header.index("paused")
    return {row[0]: row[column] for row in rows}


#: switchover.yml's default switchover_pause_limit: the follower's RESUME request expires then.
PAUSE_LIMIT = 30


def switchover_under_load(connect, wait_healthy, direct, **wait):
    """Run switchover.yml while 20 ledger clients (`connect`) commit; wait for 200 commits
    after it (`wait`: Load.wait_for's timeout) and for a healthy cluster, then verify the
    ledger on the new leader. Returns (new leader, the play's seconds, its output, the
    ledger's report, the seconds PgBouncer was paused as the play reported them or None)."""
    with Load(connect, clients=20) as load:
        load.wait_for(200)
        started = time.monotonic()
        run = run_playbook(SWITCHOVER, POOLER)
        took = time.monotonic() - started
        load.wait_for(load.committed() + 200, **wait)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    state = wait_healthy()
    new = next(m["name"] for m in state["members"] if m["role"] == "leader")
    with direct(new) as conn:
        report = load.verify(conn)
    pause = re.search(r"paused for ([0-9.]+) s", output)
    return new, took, output, report, pause.group(1) if pause else None


def test_a_switchover_under_load_fails_and_loses_no_transaction(
    leader, pooler, bouncer, members, wait_healthy, sql, direct
):
    old, _ = leader
    new, took, _, report, pause = switchover_under_load(
        lambda: bouncer(autocommit=False), wait_healthy, direct
    )
    journal = pooler.check_output(
        "journalctl -u poolkit-pgbouncer-follow --no-pager -o short-precise -n 40"
    )
    resumed = [line for line in journal.splitlines() if "(switchover request)" in line]
    print(
        f"\nswitchover.yml {old} -> {new} under 20 clients: playbook {took:.1f} s, PgBouncer"
        f" paused {pause or '?'} s as the play saw it; the follower: "
        f"{resumed[-1] if resumed else 'no RESUME'}; {report}"
    )
    assert new != old
    assert points_at(pooler) == new
    assert (report.failures, report.in_doubt, report.lost, report.phantom) == (0, 0, [], [])
    assert report.counter_matches
    assert not report.stuck_clients, report
    assert paused(pooler)["app"] == "0"
    # The follower RESUMEd the moment it pointed at the new leader, not the play after it.
    # Its request expires with switchover_pause_limit (30 s): a switch that took longer (32 s
    # once on a saturated machine) is resumed by the host's timer instead, by design
    # (test_a_pause_that_outlasts_its_limit_is_undone_by_the_host).
    if pause is None or float(pause) < PAUSE_LIMIT:
        assert resumed and f"on {new}" in resumed[-1] and "failed" not in resumed[-1], journal
    time.sleep(1)  # a released server connection closes at the next janitor pass
    left = sql(
        members[old], "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pool_app'"
    )
    assert left == [["0"]], f"{left[0][0]} server connections still on the old leader {old}"


def test_a_switchover_through_pgbouncer_in_front_of_pgpool_fails_no_transaction(
    leader, pooler, bouncer, wait_healthy, direct
):
    """app_pgpool: PgBouncer in front of the pooler host's Pgpool-II, over a Unix socket
    only Pgpool-II's system user can open (pool_hba local trust; PgBouncer runs as that
    user), held at a switchover (hold_at_switchover). switchover.yml PAUSEs it with the
    followed databases and RESUMEs it once Pgpool-II has the new leader as primary and every
    backend attached again: 20 ledger clients see one stall and no error, where 20 clients
    of Pgpool-II itself get one error each (test_pgpool.py)."""
    old, _ = leader
    assert wait_following(pooler, old, timeout=90) is not None, "Pgpool-II is not on the leader"
    since = pooler.check_output("date +%H:%M:%S")
    new, took, output, report, pause = switchover_under_load(
        lambda: bouncer(autocommit=False, dbname="app_pgpool"), wait_healthy, direct, timeout=60
    )
    # The play's report (YAML callback: wrapped, in single quotes).
    held = re.search(r"app_pgpool held until: (.+?)\.['\"]", output, re.S)
    held_until = " ".join(held.group(1).replace("''", "'").split()) if held else "(not reported)"
    print(
        f"\nswitchover.yml {old} -> {new}, 20 clients through PgBouncer in front of Pgpool-II:"
        f" playbook {took:.1f} s; {pause or '?'} s paused, held until"
        f" {held_until};"
        f" {report}"
    )
    events = "" if report.failures == 0 else pgpool_events(pooler, since)
    assert new != old
    assert held is not None, output[-3000:]
    assert (report.failures, report.in_doubt, report.lost, report.phantom) == (0, 0, [], []), (
        f"{report}\n{events}"
    )
    assert report.counter_matches
    assert not report.stuck_clients, report
    assert paused(pooler)["app_pgpool"] == "0"


def test_a_candidate_that_is_not_a_member_is_refused_before_any_change(leader, pooler):
    old, _ = leader
    before = pooler.file(FOLLOW_INCLUDE).content_string
    run = run_playbook(SWITCHOVER, POOLER, json.dumps({"switchover_candidate": "pg9"}))
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "switchover_candidate: 'pg9' is not a member of the Patroni cluster" in output
    assert all(name in output for name in MEMBERS), output[-3000:]
    assert "PAUSE" not in output.split("is not a member", 1)[1]
    assert pooler.file(FOLLOW_INCLUDE).content_string == before
    assert points_at(pooler) == old
    assert paused(pooler)["app"] == "0"
    timers = pooler.run("systemctl list-timers --all --no-legend 'poolkit-pgbouncer-resume-*'")
    assert timers.stdout.strip() == ""


def test_a_pause_that_outlasts_its_limit_is_undone_by_the_host(leader, pooler, bouncer):
    """maintenance.yml PAUSEs with pgbouncer_pause_limit 15 and ends, as a play that died
    would leave it: the host's own timer RESUMEs about 15 s after PAUSE returned. (With 4 s,
    the timer armed before PAUSE fired while a slow play was still ending: the limit must
    outlast the play's own steps after arming.)"""
    run = run_playbook(
        MAINTENANCE,
        POOLER,
        json.dumps(
            {
                "maintenance_action": "pause",
                "pgbouncer_pause_followed": True,
                "pgbouncer_pause_timeout": 2,
                "pgbouncer_pause_limit": 15,
            }
        ),
    )
    ended = time.monotonic()
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    try:
        assert paused(pooler)["app"] == "1"
        while time.monotonic() < ended + 25 and paused(pooler)["app"] != "0":
            time.sleep(0.2)
        resumed = time.monotonic() - ended
        print(f"\npgbouncer_pause_limit 15 s: resumed {resumed:.1f} s after the playbook ended")
        assert paused(pooler)["app"] == "0", "still paused 25 s after a 15 s pgbouncer_pause_limit"
        with bouncer() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        run_playbook(MAINTENANCE, POOLER, json.dumps({"maintenance_action": "resume"}))
