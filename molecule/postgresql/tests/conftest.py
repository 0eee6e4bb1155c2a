"""Shared fixtures for the postgresql scenario: the published port of each container, and
the role (primary or replica) each host plays."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from journal import journal_hook

APP_PASSWORD = "molecule-app-secret"  # the converge.yml test value, not a real secret
REPLICATION_PASSWORD = "molecule-replication-secret"  # likewise


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "only(role): run on the hosts whose test_role is role (primary or replica)"
    )


@pytest.fixture
def hostvars(host):
    return host.ansible.get_variables()


@pytest.fixture(autouse=True)
def _only_on_role(request):
    """Skip a test marked only("replica") or only("primary") on the other hosts."""
    marker = request.node.get_closest_marker("only")
    if marker is not None:
        role = request.getfixturevalue("hostvars")["test_role"]
        if role != marker.args[0]:
            pytest.skip(f"{marker.args[0]} only; this host is a {role}")


def _dsn(port, password, user, dbname):
    return (
        f"host=127.0.0.1 port={port} dbname={dbname} "
        f"user={user} password={password} connect_timeout=5"
    )


@pytest.fixture
def dsn(hostvars):
    def make(password=APP_PASSWORD, user="app", dbname="app"):
        return _dsn(hostvars["test_published_port"], password, user, dbname)

    return make


@pytest.fixture
def primary_dsn(hostvars):
    """On a replica: the DSN of its primary, through the primary's published port."""

    def make(password=APP_PASSWORD, user="app", dbname="app"):
        return _dsn(hostvars["test_primary_port"], password, user, dbname)

    return make


pytest_runtest_makereport = journal_hook("postgresql*", "postgresql journal")
