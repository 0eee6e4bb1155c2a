"""poolkit.pgpool_plan: the role's variables turned once into every pgpool.conf line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from poolkit import PoolkitError, pgpool
from poolkit.pgpool_plan import FIGURES, plan
from poolkit.sizing import size_dict

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = {
    "database": {"max_connections": 200, "cpu_cores": 4},
    "pools": [{"database": "app", "user": "app"}],
    "apps": [{"name": "web", "instances": 2, "processes": 2, "connections_per_process": 5}],
    "pgpool": {"nodes": 1},
}


def inputs(**changes):
    """The role's defaults (roles/pgpool/defaults/main.yml) as __pgpool_input has them."""
    base = {
        "version": "4.6.1",
        "topology": {},
        "backend_clustering_mode": "streaming_replication",
        "listen_addresses": "*",
        "port": 9999,
        "unix_socket_directories": "/var/run/postgresql",
        "pcp_port": 9898,
        "enable_pool_hba": True,
        "ssl": False,
        **dict.fromkeys(FIGURES),
        "health_check_user": "check",
        "sr_check_user": "check",
        "log_dir": "/var/log/pgpool2",
        "work_dir": "/var/log/postgresql",
        "extra_settings": {},
        "backends": [{"hostname": "db1", "port": 5432}, {"hostname": "db2", "port": 5432}],
        "backend_max_connections": 300,
        "users": ["app", "check"],
        "pool_passwd_method": "aes",
        "service_manager": "systemd",
        "follow_patroni": [],
        "pcp_users": [],
    }
    base.update(changes)
    return base


def conf(result):
    return dict(result["conf"])


def test_without_a_topology_each_figure_is_pgpools_default():
    result = plan(inputs())
    assert result["figures"] == {key: pgpool.DEFAULTS[key] for key in FIGURES}
    assert result["sources"] == dict.fromkeys(FIGURES, "default")
    assert conf(result)["num_init_children"] == "32"


def test_with_a_pgpool_topology_each_figure_is_what_poolkit_size_computes():
    sized = size_dict(TOPOLOGY)["pgpool"]
    result = plan(inputs(topology=TOPOLOGY))
    assert conf(result)["num_init_children"] == str(sized["num_init_children"])
    assert conf(result)["max_pool"] == str(sized["max_pool"])
    assert result["sources"] == dict.fromkeys(FIGURES, "topology")


def test_a_topology_without_a_pgpool_section_sizes_pgbouncer_only():
    topology = {key: value for key, value in TOPOLOGY.items() if key != "pgpool"}
    assert plan(inputs(topology=topology))["sources"] == dict.fromkeys(FIGURES, "default")


def test_an_explicit_variable_wins_over_the_topology():
    result = plan(inputs(topology=TOPOLOGY, num_init_children="12"))
    assert conf(result)["num_init_children"] == "12"
    assert result["sources"] == {"num_init_children": "variable", "max_pool": "topology"}


def test_a_log_dir_turns_the_collector_on_and_its_rotation_off():
    with_dir = conf(plan(inputs()))
    assert with_dir["logging_collector"] == "on"
    assert with_dir["log_directory"] == "'/var/log/pgpool2'"
    assert with_dir["log_rotation_size"] == "0"
    without = conf(plan(inputs(log_dir="")))
    assert without["logging_collector"] == "off"
    assert "log_directory" not in without


@pytest.mark.parametrize(("version", "written"), [("4.6.1", "logdir"), ("4.7.3", "work_dir")])
def test_pgpool_work_dir_is_written_under_the_releases_name(version, written):
    """Pgpool-II 4.7 renamed logdir to work_dir (docs/versions-forky.md): one variable,
    written under the name the release reads, and only that one."""
    result = conf(plan(inputs(version=version, work_dir="/srv/pgpool")))
    assert result[written] == "'/srv/pgpool'"
    (other,) = {"logdir", "work_dir"} - {written}
    assert other not in result


def test_the_rename_advice_names_a_variable_the_role_has():
    """Setting logdir is refused with "set pgpool_work_dir instead": that variable exists."""
    defaults = yaml.safe_load((ROOT / "roles" / "pgpool" / "defaults" / "main.yml").read_text())
    with pytest.raises(PoolkitError, match="set pgpool_work_dir instead") as error:
        plan(inputs(version="4.7.3", extra_settings={"logdir": "/srv/pgpool"}))
    variable = str(error.value).split("set ", 1)[1].split()[0]
    assert variable in defaults


def test_the_backends_follow_the_settings():
    keys = [key for key, _ in plan(inputs())["conf"]]
    assert keys[-1].startswith("backend_")
    assert "backend_hostname1" in keys


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_init_children": "many"}, "pgpool_num_init_children: expected a whole number"),
        ({"num_init_children": 500}, "the largest pgpool_num_init_children that fits"),
        ({"backends": []}, "pgpool_backends: empty"),
        (
            {"follow_patroni": ["https://pg1:8008"], "extra_settings": {"failover_command": "x"}},
            "pgpool_extra_settings.failover_command",
        ),
        (
            {
                "hba_rules": [
                    {"type": "local", "database": "all", "user": "all", "method": "trust"}
                ],
                "extra_settings": {"unix_socket_permissions": "0777"},
            },
            "pgpool_extra_settings.unix_socket_permissions is 0777",
        ),
    ],
)
def test_bad_input_fails_naming_the_variable(changes, message):
    with pytest.raises(PoolkitError) as error:
        plan(inputs(**changes))
    assert message in str(error.value)
