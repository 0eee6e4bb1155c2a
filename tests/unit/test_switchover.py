"""poolkit.switchover: the member a planned switchover promotes, or the reason it refuses,
from Patroni's GET /cluster answer; and the pooler hosts whose follower is not ready."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from poolkit import PoolkitError
from poolkit.switchover import followers_problems, pgpool_state, plan

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "filter"))
from poolkit_switchover import FilterModule


def member(name, role="replica", state="streaming", lag=0, **extra):
    return {"name": name, "role": role, "state": state, "lag": lag, **extra}


def cluster(*members, **extra):
    return {"members": list(members), **extra}


HEALTHY = cluster(
    member("pg1", role="leader", state="running", lag=None),
    member("pg2", lag=100),
    member("pg3", lag=0),
)


def test_the_named_candidate_is_promoted():
    assert plan(HEALTHY, "pg2").as_dict() == {"leader": "pg1", "candidate": "pg2", "lag": 100}


def test_no_candidate_picks_the_replica_with_least_lag():
    assert plan(HEALTHY).candidate == "pg3"


def test_ties_in_lag_are_broken_by_name():
    state = cluster(member("a", role="leader", state="running"), member("c"), member("b"))
    assert plan(state).candidate == "b"


def test_a_synchronous_standby_may_be_promoted():
    state = cluster(member("pg1", role="leader", state="running"), member("pg2", "sync_standby"))
    assert plan(state, "pg2").candidate == "pg2"


@pytest.mark.parametrize(
    ("candidate", "message"),
    [
        ("pg9", "switchover_candidate: 'pg9' is not a member of the Patroni cluster"),
        ("pg1", "switchover_candidate: 'pg1' is already the leader"),
    ],
)
def test_a_candidate_that_cannot_be_promoted_is_named(candidate, message):
    with pytest.raises(PoolkitError, match=message) as caught:
        plan(HEALTHY, candidate)
    assert "pg2 (replica, streaming, lag 100)" in str(caught.value)


@pytest.mark.parametrize(
    ("candidate_member", "reason"),
    [
        (member("pg2", state="starting"), "its state is 'starting', not streaming"),
        (member("pg2", lag=2_000_000), "it lags 2000000 bytes behind, more than"),
        (member("pg2", lag="unknown"), "its lag is unknown ('unknown')"),
        (member("pg2", tags={"nofailover": True}), "it is tagged nofailover"),
        (member("pg2", role="standby_leader"), "its role is 'standby_leader', not a replica"),
    ],
)
def test_a_candidate_unfit_to_take_over_is_refused_with_the_reason(candidate_member, reason):
    state = cluster(member("pg1", role="leader", state="running"), candidate_member)
    with pytest.raises(PoolkitError, match="switchover_candidate: 'pg2' cannot take over") as e:
        plan(state, "pg2")
    assert reason in str(e.value)


def test_a_synchronous_cluster_promotes_only_its_synchronous_standby():
    state = cluster(
        member("pg1", role="leader", state="running"), member("pg2", "sync_standby"), member("pg3")
    )
    with pytest.raises(PoolkitError, match="not a synchronous standby"):
        plan(state, "pg3")
    assert plan(state).candidate == "pg2"


def test_patroni_3_0_2s_running_synchronous_standby_may_be_promoted():
    """Patroni 3.0.2 (Debian 12) reports no WAL receiver state: its running synchronous
    standby streams, its running asynchronous replica is refused as not known to."""
    state = cluster(
        member("pg1", role="leader", state="running"),
        member("pg2", "sync_standby", state="running"),
        member("pg3", state="running"),
    )
    assert plan(state).candidate == "pg2"
    async_state = cluster(
        member("pg1", role="leader", state="running"), member("pg3", state="running")
    )
    with pytest.raises(PoolkitError, match="its state is 'running', not streaming"):
        plan(async_state, "pg3")
    # Where a replica reports its receiver's state (Patroni 3.0.4+), running is not streaming.
    current = cluster(
        member("pg1", role="leader", state="running"),
        member("pg2", "sync_standby", state="running"),
        member("pg3", "sync_standby"),
    )
    with pytest.raises(PoolkitError, match="its state is 'running', not streaming"):
        plan(current, "pg2")


def row(name, state="streaming"):
    """A row of the leader's GET /patroni `replication` list (pg_stat_replication)."""
    return {
        "usename": "replicator",
        "application_name": name,
        "state": state,
        "sync_state": "async",
        "sync_priority": 0,
    }


def test_patroni_3_0_2s_asynchronous_replica_streams_when_the_leader_says_so():
    async_state = cluster(
        member("pg1", role="leader", state="running"), member("pg3", state="running")
    )
    assert plan(async_state, "pg3", replication=[row("pg3")]).candidate == "pg3"
    with pytest.raises(PoolkitError, match="its state is 'running', not streaming"):
        plan(async_state, "pg3", replication=[row("pg3", state="catchup")])
    with pytest.raises(PoolkitError, match="its state is 'running', not streaming"):
        plan(async_state, "pg3", replication=[])


def test_the_leaders_rows_do_not_override_a_receiver_state():
    current = cluster(
        member("pg1", role="leader", state="running"),
        member("pg2", state="running"),
        member("pg3"),
    )
    with pytest.raises(PoolkitError, match="its state is 'running', not streaming"):
        plan(current, "pg2", replication=[row("pg2")])


def test_replication_rows_that_are_not_a_list_are_refused():
    with pytest.raises(PoolkitError, match=r"replication rows .* are not a list"):
        plan(HEALTHY, "pg2", replication={"pg2": "streaming"})


def test_max_lag_bounds_the_automatic_choice():
    state = cluster(member("pg1", role="leader", state="running"), member("pg2", lag=10))
    with pytest.raises(PoolkitError, match=r"no replica can take over.*pg2: it lags 10 bytes"):
        plan(state, "", max_lag=5)
    assert plan(state, "", max_lag=10).candidate == "pg2"


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (
            cluster(member("pg1", role="leader", state="stopped"), member("pg2")),
            "no running leader",
        ),
        (cluster(member("pg2"), member("pg3")), "no running leader"),
        (
            cluster(
                member("pg1", role="leader", state="running"),
                member("pg2", role="leader", state="running"),
            ),
            "no running leader",
        ),
        ({**HEALTHY, "pause": True}, "maintenance mode"),
        ({**HEALTHY, "scheduled_switchover": {"at": "2026-12-01T00:00:00"}}, "already scheduled"),
    ],
)
def test_an_unhealthy_cluster_is_refused(state, reason):
    with pytest.raises(PoolkitError, match="not ready for a switchover") as caught:
        plan(state, "pg2")
    assert reason in str(caught.value)


@pytest.mark.parametrize("answer", [{}, {"members": "pg1"}, {"members": [{"role": "leader"}]}, []])
def test_an_answer_without_members_is_named(answer):
    with pytest.raises(PoolkitError, match="has no member list"):
        plan(answer)


@pytest.mark.parametrize("max_lag", [-1, "1MB", True, 1.5])
def test_a_bad_max_lag_names_the_variable(max_lag):
    with pytest.raises(PoolkitError, match="switchover_max_lag"):
        plan(HEALTHY, "pg2", max_lag)


def test_ready_followers_have_no_problem():
    states = {"b1": {"healthy": True, "target_host": "pg1"}}
    assert followers_problems(states, "pg1") == []


def test_followers_not_ready_are_named_with_the_reason():
    states = {
        "b3": {"healthy": True, "target_host": "pg2"},
        "b1": None,
        "b2": {"healthy": False, "reason": "no Patroni endpoint answered", "target_host": "pg1"},
    }
    assert followers_problems(states, "pg1") == [
        "b1: no follower state (is a database following the leader?)",
        "b2: the follower is not healthy (no Patroni endpoint answered)",
        "b3: the follower points at pg2, not at the leader pg1",
    ]


FILTERS = FilterModule().filters()


def test_the_plan_filter_takes_max_lag_as_a_numeric_string():
    assert FILTERS["poolkit_switchover_plan"](HEALTHY, "", "100")["candidate"] == "pg3"


def test_the_plan_filter_passes_the_leaders_replication_rows():
    async_state = cluster(
        member("pg1", role="leader", state="running"), member("pg3", state="running")
    )
    chosen = FILTERS["poolkit_switchover_plan"](async_state, "", 100, [row("pg3")])
    assert chosen["candidate"] == "pg3"


def test_the_plan_filter_turns_a_refusal_into_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="'pg9' is not a member"):
        FILTERS["poolkit_switchover_plan"](HEALTHY, "pg9")


def test_the_followers_filter_lists_problems():
    assert FILTERS["poolkit_switchover_followers"]({"b1": None}, "pg1") == [
        "b1: no follower state (is a database following the leader?)"
    ]


PGPOOL_ON_PG2 = {
    "healthy": True,
    "leader_name": "pg2",
    "leader_host": "10.0.0.2",
    "detached": [],
}


def test_pgpool_on_the_new_leader_with_every_backend_attached_is_settled():
    assert pgpool_state(PGPOOL_ON_PG2, "pg2") == {
        "on_leader": True,
        "settled": True,
        "reason": "Pgpool-II's primary is pg2, its backends attached as before",
    }


def test_pgpool_on_the_new_leader_is_not_settled_while_the_old_one_is_detached():
    state = {**PGPOOL_ON_PG2, "detached": ["10.0.0.1:5432"]}
    result = pgpool_state(state, "pg2")
    assert (result["on_leader"], result["settled"]) == (True, False)
    assert result["reason"].endswith("10.0.0.1:5432 not attached yet")


def test_a_backend_detached_before_the_switchover_does_not_hold_it():
    state = {**PGPOOL_ON_PG2, "detached": ["10.0.0.3:5432"]}
    assert pgpool_state(state, "pg2", ["10.0.0.3:5432"])["settled"] is True


def test_pgpool_still_on_the_old_leader_is_not_on_the_leader():
    result = pgpool_state({**PGPOOL_ON_PG2, "leader_name": "pg1"}, "pg2")
    assert (result["on_leader"], result["settled"]) == (False, False)
    assert result["reason"] == "Pgpool-II's follower sees pg1 leading, not pg2"


def test_pgpool_that_disagrees_with_patroni_is_not_on_the_leader():
    state = {**PGPOOL_ON_PG2, "healthy": False, "reason": "searching"}
    assert pgpool_state(state, "pg2")["reason"] == (
        "Pgpool-II does not follow Patroni yet (searching)"
    )


def test_a_state_without_a_leader_name_is_read_by_its_host():
    state = {"healthy": True, "leader_host": "pg2", "detached": []}
    assert pgpool_state(state, "pg2")["on_leader"] is True


def test_no_pgpool_state_is_not_on_the_leader():
    assert pgpool_state(None, "pg2")["reason"].startswith("no Pgpool-II follower state")


def test_the_pgpool_filter_takes_the_detached_list():
    state = {**PGPOOL_ON_PG2, "detached": ["10.0.0.3:5432"]}
    assert FILTERS["poolkit_switchover_pgpool"](state, "pg2", ["10.0.0.3:5432"])["settled"] is True
    assert FILTERS["poolkit_switchover_pgpool"](state, "pg2")["settled"] is False
