"""Every figure `poolkit size` prints for a topology is what the role deploys: converge with a
topology of two users sharing one database 3:1 (a [users] line each) and the pool variables
left to the role's defaults, then compare pgbouncer-1.ini with `poolkit size --format ini`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from poolkit.pgbouncer import ini_section

POOLKIT = str(Path(sys.executable).with_name("poolkit"))
ROLE_DEFAULTS = Path(__file__).resolve().parents[3] / "roles/pgbouncer/defaults/main.yml"
# The pool figures converge.yml sets explicitly; here they go back to the role's defaults,
# which read the topology's sizing.
SIZED = (
    "pgbouncer_default_pool_size",
    "pgbouncer_min_pool_size",
    "pgbouncer_reserve_pool_size",
    "pgbouncer_reserve_pool_timeout",
    "pgbouncer_max_client_conn",
    "pgbouncer_max_db_connections",
)
MIXED = {
    "database": {"max_connections": 60, "cpu_cores": 2},
    "pools": [
        {"database": "app", "user": "web", "share": 3},
        {"database": "app", "user": "batch", "share": 1},
    ],
    "apps": [{"name": "web", "instances": 1, "processes": 4, "connections_per_process": 5}],
}


def pairs(value: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in value.split())


def test_the_deployed_file_carries_every_figure_of_poolkit_size(
    host, converge, tmp_path, own_config
):
    if "bookworm" in host.backend.host:
        pytest.skip("per-user pool sizes need PgBouncer 1.24 (test_bad_input: refused on 1.18)")
    hostvars = host.ansible.get_variables()
    defaults = yaml.safe_load(ROLE_DEFAULTS.read_text())
    extra = {key: defaults[key] for key in SIZED}
    extra["pgbouncer_topology"] = MIXED
    extra["pgbouncer_databases"] = [{"name": "app", "host": hostvars["test_pg_host"],
                                     "dbname": "app"}]  # fmt: skip
    topology = tmp_path / "topology.yml"
    topology.write_text(yaml.safe_dump(MIXED))
    sized = subprocess.run([POOLKIT, "size", str(topology), "--format", "ini"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    run = converge(json.dumps(extra))
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    text = host.file("/etc/pgbouncer/pgbouncer-1.ini").content_string
    deployed = {name: ini_section(text, name) for name in ("pgbouncer", "databases", "users")}
    expected = {name: ini_section(sized, name) for name in ("pgbouncer", "databases", "users")}
    print(f"\npoolkit size:\n{sized}\ndeployed [users]: {deployed['users']}")
    for key, value in expected["pgbouncer"].items():
        assert deployed["pgbouncer"].get(key) == value, key
    for name, value in expected["databases"].items():
        assert pairs(value).items() <= pairs(deployed["databases"][name]).items(), name
    assert len(expected["users"]) == 2
    assert deployed["users"] == expected["users"]
