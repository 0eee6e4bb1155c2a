"""Shared fixtures for the postgresql scenario: the published port of each container."""

import pytest

APP_PASSWORD = "molecule-app-secret"  # the converge.yml test value, not a real secret


@pytest.fixture
def hostvars(host):
    return host.ansible.get_variables()


@pytest.fixture
def dsn(hostvars):
    def make(password=APP_PASSWORD, user="app", dbname="app"):
        return (
            f"host=127.0.0.1 port={hostvars['test_published_port']} dbname={dbname} "
            f"user={user} password={password} connect_timeout=5"
        )

    return make


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the PostgreSQL journal of the host under test to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "host" in item.funcargs:
        host = item.funcargs["host"]
        journal = host.run("journalctl -u 'postgresql*' --no-pager -n 50").stdout
        report.sections.append(("postgresql journal", journal))
