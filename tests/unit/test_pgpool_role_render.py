"""roles/pgpool's pgpool.conf, rendered on the controller (tests/unit/playbooks/
render_pgpool_role.yml: the role's preflight, then its template), carries the figures
`poolkit size` computes for a topology with a pgpool section, and an explicit variable
wins over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from poolkit.pgpool import parse_conf
from poolkit.sizing import size_dict

TOPOLOGY = {
    "database": {"max_connections": 200, "cpu_cores": 4},
    "pools": [{"database": "app", "user": "app"}],
    "apps": [{"name": "web", "instances": 2, "processes": 2, "connections_per_process": 5}],
    "pgpool": {"nodes": 1},
}
BASE = {
    "pgpool_version": "4.6.1",
    "pooler_topology": TOPOLOGY,
    "pgpool_backends": [{"hostname": "db1", "port": 5432}, {"hostname": "db2", "port": 5432}],
    "pgpool_health_check_user": "check",
    "pgpool_sr_check_user": "check",
    "pgpool_users": [{"name": "app", "password": "x"}, {"name": "check", "password": "y"}],
    "pgpool_pool_key": "test-key",
}


@pytest.fixture
def render(render_role):
    def run(out: Path, **changes) -> dict[str, str]:
        render_role("render_pgpool_role.yml", out, {**BASE, **changes})
        return parse_conf((out / "pgpool.conf").read_text())

    return run


def test_the_topologys_figures_reach_pgpool_conf_and_a_variable_wins(tmp_path, render):
    sized = size_dict(TOPOLOGY)["pgpool"]
    conf = render(tmp_path / "sized")
    assert conf["num_init_children"] == str(sized["num_init_children"])
    assert conf["max_pool"] == str(sized["max_pool"])
    explicit = render(tmp_path / "explicit", pgpool_num_init_children=7)
    assert explicit["num_init_children"] == "7"
    assert explicit["max_pool"] == str(sized["max_pool"])
