"""poolkit.pgpool_exporter: SHOW rows in, pgpool2_exporter-named families out. The rows are
shaped like Pgpool-II 4.6.1's (measured in the lab); the compose monitoring test scrapes the
real exporter."""

from __future__ import annotations

import socket

import pytest
from prometheus_client import generate_latest
from prometheus_client.core import CollectorRegistry

from poolkit import PoolkitError
from poolkit.cli.pgpool_exporter import PgpoolCollector, _listen, _password
from poolkit.monitoring import METRICS
from poolkit.pgpool_exporter import metrics

NODES = [
    {"hostname": "pg1", "port": "5432", "status": "up", "role": "primary",
     "select_cnt": "12", "replication_delay": "0"},
    {"hostname": "pg2", "port": "5432", "status": "down", "role": "standby",
     "select_cnt": "30", "replication_delay": "128"},
]  # fmt: skip
PROCESSES = [
    {"pool_pid": "1", "database": "app", "username": "app", "status": "Idle"},
    {"pool_pid": "2", "database": "app", "username": "app", "status": "Execute command"},
    {"pool_pid": "3", "database": "app", "username": "report", "status": "Idle in transaction"},
    {"pool_pid": "4", "database": "", "username": "", "status": "Wait for connection"},
]
POOLS = [{"pool_pid": str(n // 2), "pool_backendpid": "900" if n < 3 else "0"} for n in range(8)]


def by_name():
    return {family.name: family for family in metrics(NODES, PROCESSES, POOLS)}


def value(name, labels=()):
    return dict(by_name()[name].samples)[labels]


def test_frontend_counts_children_serving_a_client():
    assert value("pgpool2_frontend_total") == 4
    assert value("pgpool2_frontend_used_ratio") == 0.75


def test_frontend_used_is_per_user_and_database():
    assert dict(by_name()["pgpool2_frontend_used"].samples) == {
        ("app", "app"): 2,
        ("report", "app"): 1,
    }


def test_backend_slots_holding_a_connection():
    assert (value("pgpool2_backend_total"), value("pgpool2_backend_used")) == (8, 3)
    assert value("pgpool2_backend_used_ratio") == 3 / 8


def test_node_status_is_one_for_up_and_zero_for_down():
    status = dict(by_name()["pgpool2_pool_nodes_status"].samples)
    assert status == {("pg1", "5432", "primary"): 1, ("pg2", "5432", "standby"): 0}


def test_select_counts_and_delay_per_node():
    assert value("pgpool2_pool_nodes_select_cnt", ("pg2", "5432", "standby")) == 30
    assert value("pgpool2_pool_nodes_replication_delay", ("pg2", "5432", "standby")) == 128


def test_every_name_the_rules_and_dashboard_read_from_pgpool_is_exported():
    exported = set(by_name())
    assert {m for m in METRICS if m.startswith("pgpool2_")} <= exported


def test_a_malformed_number_names_the_column():
    with pytest.raises(PoolkitError, match="select_cnt: 'many' is not a number"):
        metrics([{**NODES[0], "select_cnt": "many"}], [], [])


def test_an_unreachable_pgpool_exports_up_zero_only():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PgpoolCollector(f"host=127.0.0.1 port={port} user=x", timeout=2))
    text = generate_latest(registry).decode()
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == ["pgpool2_up 0.0"]


@pytest.mark.parametrize(
    ("text", "expected"), [("127.0.0.1:9719", ("127.0.0.1", 9719)), (":9719", ("0.0.0.0", 9719))]
)
def test_listen_address(text, expected):
    assert _listen(text) == expected


@pytest.mark.parametrize("text", ["9719", "host:http", "0.0.0.0:70000"])
def test_a_bad_listen_address_is_refused(text):
    with pytest.raises(PoolkitError, match=f"--listen '{text}': expected ADDRESS:PORT"):
        _listen(text)


def test_the_password_file_gives_its_first_line_without_the_newline(tmp_path):
    path = tmp_path / "password"
    path.write_text("s3cret: with spaces\nignored\n")
    assert _password(str(path)) == "s3cret: with spaces"


def test_an_unreadable_password_file_is_named(tmp_path):
    missing = tmp_path / "nothing"
    with pytest.raises(PoolkitError, match=f"--password-file {missing}: cannot read it"):
        _password(str(missing))
