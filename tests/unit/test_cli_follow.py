"""`poolkit follow --once` against a real HTTP server that answers like Patroni's /cluster."""

from __future__ import annotations

import json

import pytest

from poolkit.cli import main

CLUSTER = {"members": []}


@pytest.fixture
def patroni(patroni_server):
    return patroni_server(CLUSTER)


@pytest.fixture
def config(tmp_path, patroni):
    def write(endpoints=None):
        path = tmp_path / "follow.json"
        path.write_text(
            json.dumps(
                {
                    "endpoints": endpoints or [patroni],
                    "databases": {"app": "dbname=app pool_size=4"},
                    "include_file": str(tmp_path / "follow.ini"),
                    "state_file": str(tmp_path / "state.json"),
                    "timeout": 0.5,
                }
            )
        )
        return path

    return write


def leader(name):
    CLUSTER.pop("_status", None)
    CLUSTER["members"] = [
        {"name": name, "role": "leader", "state": "running", "host": name, "port": 5432},
        {"name": "pg3", "role": "replica", "state": "streaming", "host": "pg3", "port": 5432},
    ]


def promoting(name, base, role, code):
    """`name` holds the lock; its own API (its /cluster api_url) says `role`."""
    leader(name)
    CLUSTER["members"][0]["api_url"] = f"{base}/patroni/{name}"
    CLUSTER["_status"] = {f"/patroni/{name}": (code, {"role": role, "state": "running"})}


def test_a_new_leader_still_in_recovery_is_not_taken_until_it_is_primary(
    config, patroni, tmp_path, capsys
):
    leader("pg1")
    main(["follow", "--config", str(config()), "--once"])
    promoting("pg2", patroni, "replica", 200)
    assert main(["follow", "--config", str(config()), "--once"]) == 0
    assert "app = host=pg1 port=5432" in (tmp_path / "follow.ini").read_text()
    state = json.loads((tmp_path / "state.json").read_text())
    assert (state["target_host"], state["healthy"]) == ("pg1", False)
    assert "new leader pg2:5432 is not out of recovery yet" in state["reason"]
    assert "role replica" in capsys.readouterr().out
    promoting("pg2", patroni, "primary", 200)
    main(["follow", "--config", str(config()), "--once"])
    assert "app = host=pg2 port=5432" in (tmp_path / "follow.ini").read_text()


def test_a_new_leader_whose_api_does_not_answer_is_not_taken(config, patroni, tmp_path):
    leader("pg1")
    main(["follow", "--config", str(config()), "--once"])
    leader("pg2")
    CLUSTER["members"][0]["api_url"] = "http://127.0.0.1:9/patroni"
    main(["follow", "--config", str(config()), "--once"])
    assert "app = host=pg1 port=5432" in (tmp_path / "follow.ini").read_text()
    assert "127.0.0.1:9/patroni" in json.loads((tmp_path / "state.json").read_text())["reason"]


def test_the_leader_lands_in_the_include_file_and_the_state(config, tmp_path):
    leader("pg1")
    assert main(["follow", "--config", str(config()), "--once"]) == 0
    assert (
        "app = host=pg1 port=5432 dbname=app pool_size=4" in (tmp_path / "follow.ini").read_text()
    )
    state = json.loads((tmp_path / "state.json").read_text())
    assert (state["target_host"], state["healthy"]) == ("pg1", True)


def test_a_new_leader_rewrites_the_file(config, tmp_path):
    leader("pg1")
    main(["follow", "--config", str(config()), "--once"])
    leader("pg2")
    main(["follow", "--config", str(config()), "--once"])
    assert "app = host=pg2 port=5432" in (tmp_path / "follow.ini").read_text()


def test_an_unreachable_api_keeps_the_last_target_and_says_so(config, tmp_path, capsys):
    leader("pg1")
    main(["follow", "--config", str(config()), "--once"])
    before = (tmp_path / "follow.ini").read_text()
    assert main(["follow", "--config", str(config(["http://127.0.0.1:9"])), "--once"]) == 0
    assert (tmp_path / "follow.ini").read_text() == before
    state = json.loads((tmp_path / "state.json").read_text())
    assert (state["target_host"], state["healthy"]) == ("pg1", False)
    assert "no Patroni endpoint answered" in state["reason"]
    assert "keeping pg1:5432" in capsys.readouterr().out


def test_no_leader_ever_seen_writes_no_include_file(config, tmp_path):
    CLUSTER["members"] = []
    assert main(["follow", "--config", str(config()), "--once"]) == 1
    assert not (tmp_path / "follow.ini").exists()


def test_a_bad_configuration_is_one_line_naming_the_key(tmp_path, capsys):
    path = tmp_path / "follow.json"
    path.write_text(json.dumps({"endpoints": []}))
    assert main(["follow", "--config", str(path), "--once"]) == 2
    assert "endpoints must be a non-empty list" in capsys.readouterr().err


def test_a_unit_that_does_not_reload_is_reported_not_claimed(config, tmp_path, capsys):
    leader("pg1")
    path = config()
    settings = json.loads(path.read_text())
    path.write_text(json.dumps({**settings, "units": ["poolkit-no-such-unit.service"]}))
    assert main(["follow", "--config", str(path), "--once"]) == 0
    captured = capsys.readouterr()
    assert "reloaded no unit" in captured.out
    assert "reload failed: poolkit-no-such-unit.service" in captured.err


def test_read_only_databases_land_on_the_streaming_replicas(config, tmp_path, capsys):
    leader("pg1")
    CLUSTER["members"][1]["lag"] = 0
    path = config()
    settings = json.loads(path.read_text())
    read_only = {"replica_databases": {"app_ro": "dbname=app"}, "pgbouncer_version": "1.24.1"}
    path.write_text(json.dumps({**settings, **read_only}))
    assert main(["follow", "--config", str(path), "--once"]) == 0
    assert "app_ro = host=pg3 port=5432 dbname=app" in (tmp_path / "follow.ini").read_text()
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["replica_hosts"] == ["pg3"]
    assert "reads on pg3:5432" in capsys.readouterr().out
    CLUSTER["members"][1]["lag"] = 10**9  # too far behind: reads go to the leader
    assert main(["follow", "--config", str(path), "--once"]) == 0
    assert "app_ro = host=pg1 port=5432 dbname=app" in (tmp_path / "follow.ini").read_text()
    assert "reads go to the leader pg1:5432" in capsys.readouterr().out


def test_a_due_resume_request_runs_once_and_is_removed(config, tmp_path, capsys, monkeypatch):
    leader("pg1")
    request = tmp_path / "resume.json"
    marker = tmp_path / "resumed"
    resume = {
        "request_file": str(request),
        "user": "postgres",
        "sockets": ["/run/pgbouncer/1"],
        "port": 6432,
        "databases": ["app"],
    }
    path = config()
    path.write_text(json.dumps({**json.loads(path.read_text()), "resume": resume}))
    monkeypatch.setattr(
        "poolkit.follower.Resume.commands", lambda self: [["sh", "-c", f"echo x >> {marker}"]]
    )
    request.write_text(json.dumps({"target_host": "pg2", "limit": 60}))
    main(["follow", "--config", str(path), "--once"])
    assert request.exists() and not marker.exists()  # pg1 leads: not yet
    leader("pg2")
    main(["follow", "--config", str(path), "--once"])
    assert not request.exists() and marker.read_text() == "x\n"
    assert "resumed app on pg2:5432" in capsys.readouterr().out
    main(["follow", "--config", str(path), "--once"])
    assert marker.read_text() == "x\n"
