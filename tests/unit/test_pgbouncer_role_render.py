"""roles/pgbouncer's own files, rendered on the controller (tests/unit/playbooks/
render_pgbouncer_role.yml: the role's preflight, then its templates), carry every figure
`poolkit size` prints for a topology, and an explicit variable wins over it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from topologies import MIXED

from poolkit.pgbouncer import ini_section

BIN = Path(sys.executable).parent
BASE = {
    "pgbouncer_version": "1.26.1",
    "pgbouncer_processes": 2,
    "pooler_topology": MIXED,
    "pgbouncer_users": [{"name": "web", "password": "x"}, {"name": "batch", "password": "y"}],
    "pgbouncer_databases": [{"name": "app", "host": "db1", "dbname": "app"}],
}


@pytest.fixture
def render(render_role):
    return lambda out, **changes: render_role("render_pgbouncer_role.yml", out, {**BASE, **changes})


@pytest.fixture(scope="module")
def sized(tmp_path_factory) -> str:
    topology = tmp_path_factory.mktemp("topology") / "topology.yml"
    topology.write_text(yaml.safe_dump(MIXED))
    return subprocess.run(
        [str(BIN / "poolkit"), "size", str(topology), "--format", "ini"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def pairs(value: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in value.split())


def test_every_figure_of_poolkit_size_reaches_every_process_file(tmp_path, sized, render):
    out = render(tmp_path)
    for process in ("1", "2"):
        text = (out / f"pgbouncer-{process}.ini").read_text()
        deployed = {name: ini_section(text, name) for name in ("pgbouncer", "databases", "users")}
        expected = {name: ini_section(sized, name) for name in ("pgbouncer", "databases", "users")}
        assert expected["pgbouncer"].items() <= deployed["pgbouncer"].items(), process
        for name, value in expected["databases"].items():
            assert pairs(value).items() <= pairs(deployed["databases"][name]).items()
        assert len(expected["users"]) == 2
        assert deployed["users"] == expected["users"]
    nofile = "LimitNOFILE=" + sized.split("LimitNOFILE / ulimit -n >= ")[1].split()[0]
    assert nofile in (out / "pgbouncer@.service").read_text()


def test_an_explicit_variable_wins_over_the_topology_in_the_file(tmp_path, render):
    out = render(tmp_path, pgbouncer_default_pool_size=9, pgbouncer_limit_nofile=16384)
    settings = ini_section((out / "pgbouncer-1.ini").read_text(), "pgbouncer")
    assert settings["default_pool_size"] == "9"
    assert "LimitNOFILE=16384" in (out / "pgbouncer@.service").read_text()
