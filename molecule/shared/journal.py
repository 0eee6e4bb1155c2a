"""Shared by the scenarios' conftest.py: attach a service's journal to a failed test."""

from __future__ import annotations

import pytest


def journal_hook(units: str, title: str, lines: int = 60):
    """A pytest_runtest_makereport hook that appends `journalctl -u UNITS` of the host under
    test to the report of a failed test, so CI shows why the service misbehaved. UNITS:
    one unit pattern, or several separated by spaces (one journal, interleaved)."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" and report.failed and "host" in item.funcargs:
            host = item.funcargs["host"]
            selected = " ".join(f"-u '{unit}'" for unit in units.split())
            journal = host.run(f"journalctl {selected} --no-pager -n {lines}").stdout
            report.sections.append((title, journal))

    return pytest_runtest_makereport
