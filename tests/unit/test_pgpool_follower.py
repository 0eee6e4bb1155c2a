"""The Pgpool-II follower's decisions (poolkit.pgpool_follower) and `poolkit pgpool-follow
--once` against a Patroni-like HTTP server and PCP tools that answer like Pgpool-II's."""

from __future__ import annotations

import json
import os
import stat

import pytest

from poolkit import PoolkitError
from poolkit.cli import main
from poolkit.follower import Target
from poolkit.pgpool_follower import (
    Action,
    PgpoolNode,
    agrees,
    decide_action,
    due,
    load_config,
    parse_node_info,
    primary_of,
)

# pcp_node_info --verbose -n 1 from Pgpool-II 4.6.1 in the ha lab.
VERBOSE = """Hostname               : ha-pg2-trixie
Port                   : 5432
Status                 : 1
Weight                 : 0.333333
Status Name            : waiting
Backend Status Name    : up
Role                   : standby
Backend Role           : primary
Replication Delay      : 0
Replication State      : none
Replication Sync State : none
Last Status Change     : 2026-12-01 19:18:07
"""


def node(node_id, status="up", role="standby", host=None):
    return PgpoolNode(node_id, host or f"pg{node_id + 1}", 5432, status, role)


PG1, PG2 = Target("pg1", 5432), Target("pg2", 5432)


def test_node_info_is_read_from_the_verbose_form():
    parsed = parse_node_info(1, VERBOSE)
    assert parsed == PgpoolNode(1, "ha-pg2-trixie", 5432, "waiting", "standby")
    assert parsed.attached


def test_node_info_without_the_verbose_keys_is_refused_with_the_answer():
    with pytest.raises(PoolkitError, match="node 0: no host, port, role, status"):
        parse_node_info(0, "ha-pg1-trixie 5432 1 0.5 waiting up primary primary 0")


def test_a_detached_leader_is_attached():
    action, _ = decide_action(PG1, [node(0, "down"), node(1, role="primary"), node(2)])
    assert (action.kind, action.node.node_id) == ("attach", 0)
    assert action.pcp_command() == "pcp_attach_node"
    assert "detached" in action.reason


def test_an_attached_leader_that_pgpool_does_not_call_primary_is_named_primary():
    action, _ = decide_action(PG1, [node(0), node(1, role="primary"), node(2)])
    assert (action.kind, action.node.node_id) == ("promote", 0)
    assert action.reason == "Pgpool-II's primary is pg2:5432, Patroni's leader is pg1:5432"


def test_a_pgpool_without_primary_is_given_the_leader():
    action, _ = decide_action(PG2, [node(0, "down"), node(1), node(2)])
    assert (action.kind, action.node.node_id) == ("promote", 1)
    assert "no backend" in action.reason


def test_nothing_is_sent_when_pgpool_agrees_with_patroni():
    action, note = decide_action(PG1, [node(0, role="primary"), node(1)])
    assert action is None
    assert note == "Pgpool-II's primary is Patroni's leader pg1:5432"


def test_nothing_is_sent_without_an_agreed_leader():
    action, note = decide_action(None, [node(0, "down"), node(1)])
    assert action is None and "no agreed Patroni leader" in note


def test_a_leader_that_is_no_backend_is_reported_not_acted_on():
    action, note = decide_action(Target("elsewhere", 5432), [node(0, role="primary")])
    assert action is None
    assert note == "Patroni's leader elsewhere:5432 is no Pgpool-II backend (pg1:5432)"


def test_a_leader_is_matched_by_member_name_too():
    leader = Target("10.0.0.1", 5432, "pg1")
    action, _ = decide_action(leader, [node(0, "down"), node(1, role="primary")])
    assert action.node.node_id == 0


def test_pgpool_agrees_only_when_its_primary_is_the_leader():
    assert agrees(PG1, [node(0, role="primary"), node(1)])
    assert not agrees(PG2, [node(0, role="primary"), node(1)])
    assert not agrees(Target("elsewhere", 5432), [node(0, role="primary")])
    assert not agrees(None, [node(0, role="primary")])


def test_a_detached_primary_is_not_pgpools_primary():
    assert primary_of([node(0, "down", "primary"), node(1)]) is None


def test_the_same_request_waits_for_the_retry_interval_another_goes_at_once():
    attach = Action("attach", node(0, "down"), "")
    assert due(attach, None, 100.0, 5)
    assert not due(attach, ("attach", 0, 97.0), 100.0, 5)
    assert due(attach, ("attach", 0, 95.0), 100.0, 5)
    assert due(attach, ("promote", 0, 99.0), 100.0, 5)
    assert due(attach, ("attach", 1, 99.0), 100.0, 5)


CONFIG = {
    "endpoints": ["https://pg1:8008"],
    "nodes": 3,
    "pcp_host": "/var/run/postgresql",
    "pcp_port": 9898,
    "pcp_user": "pcp_follow",
    "state_file": "/var/lib/poolkit/pgpool-follow.json",
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"endpoints": []}, "endpoints must be a non-empty list"),
        ({"nodes": 0}, "nodes must be an integer in [1, 128]"),
        ({"pcp_port": "9898"}, "pcp_port must be an integer"),
        ({"pcp_user": ""}, "pcp_user must be a non-empty string"),
        ({"state_file": "state.json"}, "state_file must be an absolute path"),
        ({"retry": 0}, "retry must be seconds in (0, 60]"),
    ],
)
def test_a_bad_configuration_names_the_key(changes, expected):
    with pytest.raises(PoolkitError, match=expected.replace("[", r"\[").replace("(", r"\(")):
        load_config(json.dumps({**CONFIG, **changes}))


# ------------------------------------------------------------------ the command, once

PCP_TOOL = """#!/bin/sh
# Answers like Pgpool-II's PCP tools from $PCP_STATE (one "host status role" line per node);
# records each call with the password file it was given.
echo "$(basename "$0") $* pass=$(cat "$PCPPASSFILE")" >> "$PCP_LOG"
case "$(basename "$0")" in
  pcp_node_info)
    for last; do :; done
    sed -n "$((last + 1))p" "$PCP_STATE" | while read -r host status role; do
      printf 'Hostname : %s\\nPort : 5432\\n' "$host"
      printf 'Status Name : %s\\nRole : %s\\n' "$status" "$role"
    done ;;
  *) echo "$(basename "$0") -- Command Successful" ;;
esac
"""


@pytest.fixture
def pcp(tmp_path, monkeypatch):
    """PCP tools on PATH answering from a state file; returns (state file, call log)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("pcp_node_info", "pcp_attach_node", "pcp_promote_node"):
        tool = bin_dir / name
        tool.write_text(PCP_TOOL)
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    state, log = tmp_path / "pcp-state", tmp_path / "pcp-log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PCP_STATE", str(state))
    monkeypatch.setenv("PCP_LOG", str(log))
    log.write_text("")
    return state, log


@pytest.fixture
def follow(tmp_path, patroni_server):
    cluster = {
        "members": [
            {"name": "pg1", "role": "leader", "state": "running", "host": "pg1", "port": 5432},
            {"name": "pg2", "role": "replica", "state": "streaming", "host": "pg2", "port": 5432},
        ]
    }
    url = patroni_server(cluster)
    cluster["members"][0]["api_url"] = f"{url}/patroni/pg1"
    cluster["_status"] = {"/patroni/pg1": (200, {"role": "primary", "state": "running"})}
    config = tmp_path / "follow.json"
    config.write_text(
        json.dumps(
            {
                **CONFIG,
                "endpoints": [url],
                "nodes": 2,
                "pcp_host": str(tmp_path),
                "state_file": str(tmp_path / "state.json"),
                "timeout": 0.5,
            }
        )
    )
    password = tmp_path / "password"
    password.write_text("pcp-secret\n")
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)

    def run():
        argv = ["pgpool-follow", "--config", str(config), "--password-file", str(password)]
        code = main([*argv, "--runtime-dir", str(runtime), "--once"])
        return code, json.loads((tmp_path / "state.json").read_text())

    return run, runtime


def test_the_command_attaches_the_leader_pgpool_detached(pcp, follow):
    state_file, log = pcp
    state_file.write_text("pg1 down standby\npg2 up primary\n")
    run, runtime = follow
    code, state = run()
    assert code == 0
    calls = log.read_text().splitlines()
    assert [c for c in calls if c.startswith("pcp_attach_node")] == [
        f"pcp_attach_node -h {runtime.parent} -p 9898 -U pcp_follow -w -n 0 "
        "pass=*:*:pcp_follow:pcp-secret"
    ]
    assert state["healthy"] is False
    assert state["reason"] == "Patroni's leader pg1:5432 is detached in Pgpool-II"
    assert state["last_request"] == "pcp_attach_node -- Command Successful"
    assert state["detached"] == ["pg1:5432"]
    assert stat.S_IMODE((runtime / "pcppass").stat().st_mode) == 0o600


def test_the_command_sends_nothing_when_pgpool_follows(pcp, follow):
    state_file, log = pcp
    state_file.write_text("pg1 up primary\npg2 up standby\n")
    run, _ = follow
    code, state = run()
    assert code == 0
    assert not [c for c in log.read_text().splitlines() if not c.startswith("pcp_node_info")]
    assert state["healthy"] is True and state["pgpool_primary"] == "pg1:5432"
    assert state["leader_name"] == "pg1"
    assert state["detached"] == []


def test_a_pcp_that_fails_is_reported_and_nothing_is_sent(pcp, follow, tmp_path):
    state_file, _ = pcp
    state_file.write_text("")  # no node lines: the tool's answer lacks every key
    run, _ = follow
    code, state = run()
    assert code == 1
    assert state["healthy"] is False
    assert state["reason"].startswith("Pgpool-II's PCP did not answer: pcp_node_info for node 0")
