"""Smoke test of the local stack (docker-compose.yml), through 127.0.0.1 like a developer.

The stack runs as its own compose project (poolkit-smoke) on its own ports, so a developer's
`docker compose up` stack and the `make demo` lab are left alone. Settings are read back from
`docker compose config` (the .env in the checkout, else the defaults of docker-compose.yml).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from conftest import ROOT, compose, dsn, in_container

from poolkit.pgbouncer import ini_section


def ini_values(text: str) -> dict[str, str]:
    return dict(re.findall(r"^(\w+) = (.*)$", text, re.MULTILINE))


def test_query_through_pgbouncer_reaches_the_primary(stack):
    with psycopg.connect(dsn(stack, "POOLKIT_PGBOUNCER_PORT")) as conn:
        row = conn.execute("SELECT current_user, pg_is_in_recovery()").fetchone()
    assert row == (stack["POOLKIT_APP_USER"], False)


def test_query_through_pgpool_and_both_nodes_up(stack):
    with psycopg.connect(dsn(stack, "POOLKIT_PGPOOL_PORT"), autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (stack["POOLKIT_APP_USER"],)
        nodes = conn.execute("SHOW POOL_NODES").fetchall()
    assert [(n[1], n[3], n[6]) for n in nodes] == [
        ("postgres", "up", "primary"),
        ("postgres-replica", "up", "standby"),
    ]


def test_pgpool_balances_reads_onto_the_replica(stack):
    def replica_selects() -> int:
        with psycopg.connect(dsn(stack, "POOLKIT_PGPOOL_PORT"), autocommit=True) as conn:
            cursor = conn.execute("SHOW POOL_NODES")
            column = [c.name for c in cursor.description].index("select_cnt")
            return int(cursor.fetchall()[1][column])

    before = replica_selects()
    # A session picks its load-balance node when it starts (weights 1:1); a query that
    # reads a system catalog would always go to the primary.
    for _ in range(20):
        with psycopg.connect(dsn(stack, "POOLKIT_PGPOOL_PORT"), autocommit=True) as conn:
            conn.execute("SELECT 1").fetchone()
    assert replica_selects() > before


def test_transaction_pooling_bounds_server_connections(stack):
    """40 clients in transactions share the few server connections of the pool."""
    ini = ini_values(in_container("pgbouncer", "cat", "/etc/pgbouncer/pgbouncer-1.ini"))
    bound = int(ini["default_pool_size"]) + int(ini["reserve_pool_size"])
    assert ini["pool_mode"] == "transaction"
    pgbouncer_ip = in_container("pgbouncer", "hostname", "-i").split()[0]
    clients, rounds = 40, 3
    peak, stop = [0], threading.Event()

    def sample():
        with psycopg.connect(dsn(stack, "POOLKIT_POSTGRES_PORT"), autocommit=True) as conn:
            while not stop.is_set():
                (count,) = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND client_addr = %s",
                    (stack["POOLKIT_APP_USER"], pgbouncer_ip),
                ).fetchone()
                peak[0] = max(peak[0], count)
                time.sleep(0.05)

    def client(_):
        pids = set()
        with psycopg.connect(dsn(stack, "POOLKIT_PGBOUNCER_PORT")) as conn:
            for _ in range(rounds):
                with conn.transaction():
                    pids.add(conn.execute("SELECT pg_backend_pid(), pg_sleep(0.1)").fetchone()[0])
        return pids

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(clients) as pool:
            backend_pids = set().union(*pool.map(client, range(clients)))
    finally:
        stop.set()
        sampler.join()
    print(
        f"\n{clients} clients x {rounds} transactions: {len(backend_pids)} server connections"
        f" used, peak {peak[0]} in pg_stat_activity (pool {bound} = pool + reserve)"
    )
    assert 1 < len(backend_pids) <= bound < clients
    assert 1 < peak[0] <= bound


@pytest.mark.parametrize("port_key", ["POOLKIT_PGBOUNCER_PORT", "POOLKIT_PGPOOL_PORT"])
def test_wrong_password_is_refused(stack, port_key):
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        psycopg.connect(dsn(stack, port_key, password="not-the-password")).close()


def broken_pythons(directory: Path) -> Path:
    """A directory of Pythons that fail as a pyenv shim of an inactive version does."""
    directory.mkdir()
    for name in ("python3.14", "python3.13", "python3.12", "python3"):
        shim = directory / name
        shim.write_text(f'#!/bin/sh\necho "pyenv: {name}: command not found" >&2\nexit 127\n')
        shim.chmod(0o755)
    return directory


def render_pgbouncer_ini(stack, tmp_path, **env) -> str:
    """pgbouncer-1.ini as roles/pgbouncer renders it on this machine from compose/vars.yml
    and the stack's environment (plus `env`). The render runs with broken Pythons first on
    the PATH, as on a laptop with pyenv shims of inactive versions: the play must use the
    controller's own Python."""
    version = in_container("pgbouncer", "dpkg-query", "-W", "-f", "${Version}", "pgbouncer")
    out = tmp_path / "pgbouncer-1.ini"
    shims = broken_pythons(tmp_path / "shims")
    render = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            "localhost,",
            "tests/compose/render_pgbouncer.yml",
            "-e",
            f"pgbouncer_version={version}",
            "-e",
            f"compose_out={out}",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            **stack,
            **env,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "PATH": f"{shims}:{os.environ['PATH']}",
        },
        capture_output=True,
        text=True,
    )
    assert render.returncode == 0, render.stdout[-3000:] + render.stderr[-2000:]
    return out.read_text()


def test_pgbouncer_ini_is_the_roles_render(stack, tmp_path):
    """The single-source check: the container's file is what roles/pgbouncer renders."""
    deployed = in_container("pgbouncer", "cat", "/etc/pgbouncer/pgbouncer-1.ini")
    assert deployed == render_pgbouncer_ini(stack, tmp_path)


def test_a_mixed_topology_renders_every_figure_of_poolkit_size(stack, tmp_path):
    """Two users sharing the database 3:1 get [users] lines: the stack's render (the config
    service's POOLKIT_TOPOLOGY) carries every figure `poolkit size` prints for it."""
    topology = "tests/compose/mixed-topology.yml"
    sized = subprocess.run(
        [str(Path(sys.executable).with_name("poolkit")), "size", topology, "--format", "ini"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    text = render_pgbouncer_ini(stack, tmp_path, POOLKIT_TOPOLOGY=topology)
    rendered = {name: ini_section(text, name) for name in ("pgbouncer", "databases", "users")}
    expected = {name: ini_section(sized, name) for name in ("pgbouncer", "databases", "users")}
    for key, value in expected["pgbouncer"].items():
        assert rendered["pgbouncer"].get(key) == value, key
    for name, value in expected["databases"].items():
        want = dict(item.split("=", 1) for item in value.split())
        have = dict(item.split("=", 1) for item in rendered["databases"][name].split())
        assert want.items() <= have.items(), name
    assert len(expected["users"]) == 2
    assert rendered["users"] == expected["users"]


def test_pooler_files_hold_verifiers_only(stack):
    passwords = {value for key, value in stack.items() if key.endswith("_PASSWORD")}
    userlist = in_container("pgbouncer", "cat", "/etc/pgbouncer/userlist.txt").splitlines()
    assert userlist and all(re.fullmatch(r'"\w+" "SCRAM-SHA-256\$4096:\S+"', u) for u in userlist)
    pool_passwd = in_container("pgpool", "cat", "/etc/pgpool2/pool_passwd").splitlines()
    assert pool_passwd and all(re.fullmatch(r"\w+:AES\S+", line) for line in pool_passwd)
    for service, paths in {
        "pgbouncer": ["/etc/pgbouncer"],
        "pgpool": ["/etc/pgpool2", "/var/lib/postgresql"],
    }.items():
        files = in_container(service, "find", *paths, "-type", "f").split()
        text = in_container(service, "cat", *files)
        leaked = [key for key, value in stack.items() if value in passwords and value in text]
        assert not leaked, f"{service}: plaintext {leaked} in {paths}"


def test_secret_files_are_private_to_the_service_user(stack):
    for service, path, mode in [
        ("pgbouncer", "/etc/pgbouncer/userlist.txt", "640"),
        ("pgpool", "/etc/pgpool2/pool_passwd", "640"),
        ("pgpool", "/var/lib/postgresql/.pgpoolkey", "600"),
    ]:
        owner_group_mode = in_container(service, "stat", "-c", "%U %G %a", path).split()
        assert owner_group_mode[1:] == ["postgres", mode], (path, owner_group_mode)


def test_images_hold_no_password(stack):
    """No password reaches an image: its environment, labels and build history."""
    passwords = [v for k, v in stack.items() if k.endswith(("_PASSWORD", "_KEY"))]
    services = json.loads(compose("config", "--format", "json").stdout)["services"]
    for image in sorted({service["image"] for service in services.values()}):
        inspected = subprocess.run(
            ["docker", "image", "inspect", image, "--format", "{{json .Config}}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        history = subprocess.run(
            ["docker", "history", "--no-trunc", "--format", "{{.CreatedBy}}", image],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert not [p for p in passwords if p in inspected + history], image
