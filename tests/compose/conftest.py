"""The local stack (docker-compose.yml) for the compose tests, with its `monitoring` profile:
one stack per session, as its own compose project (poolkit-smoke) on its own ports, so a
developer's `docker compose up` stack and the `make demo` lab are left alone. Settings are
read back from `docker compose config` (the .env in the checkout, else the defaults of
docker-compose.yml)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "poolkit-smoke"
PORTS = {
    "POOLKIT_PGBOUNCER_PORT": 36432,
    "POOLKIT_PGPOOL_PORT": 39999,
    "POOLKIT_POSTGRES_PORT": 35433,
    "POOLKIT_POSTGRES_REPLICA_PORT": 35434,
    "POOLKIT_PROMETHEUS_PORT": 39090,
}
ENV = {
    **os.environ,
    **{key: str(port) for key, port in PORTS.items()},
    "COMPOSE_PROFILES": "monitoring",
}


def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "compose", "-p", PROJECT, *args],
        cwd=ROOT,
        env=ENV,
        check=check,
        capture_output=True,
        text=True,
    )


def in_container(service: str, *argv: str) -> str:
    return compose("exec", "-T", service, *argv).stdout


@pytest.fixture(scope="session")
def stack():
    """The stack up and healthy (`up --wait` waits for every health check), then gone."""
    compose("down", "-v", "--remove-orphans", check=False)
    started = time.monotonic()
    up = compose("up", "-d", "--build", "--wait", check=False)
    if up.returncode != 0:
        logs = compose("logs", "--no-color", "--tail", "40", check=False).stdout
        compose("down", "-v", "--remove-orphans", check=False)
        pytest.fail(f"docker compose up --wait failed:\n{up.stderr[-3000:]}\n{logs[-6000:]}")
    print(f"\nstack healthy in {time.monotonic() - started:.1f} s")
    config = json.loads(compose("config", "--format", "json").stdout)
    yield config["services"]["config"]["environment"]
    compose("down", "-v", "--remove-orphans")


def dsn(settings: dict, port_key: str, user: str | None = None, password: str | None = None):
    return psycopg.conninfo.make_conninfo(
        host="127.0.0.1",
        port=PORTS[port_key],
        dbname=settings["POOLKIT_DATABASE"],
        user=user or settings["POOLKIT_APP_USER"],
        password=password or settings["POOLKIT_APP_PASSWORD"],
        connect_timeout=10,
    )
