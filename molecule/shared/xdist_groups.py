"""Shared by the scenarios' conftest.py: with pytest-xdist (`-n 2 --dist loadgroup`), every
test of one host runs in one worker, in file order, and the hosts' tests side by side. A
host's tests change that host (converge, restarts, PAUSE), so they never overlap; the hosts
do not share anything, so they may."""

from __future__ import annotations

import pytest


def group_of(item) -> str:
    """The testinfra host a test runs against (its xdist group), or "shared"."""
    callspec = getattr(item, "callspec", None)
    host = callspec.params.get("_testinfra_host") if callspec else None
    return host.backend.get_pytest_id() if host is not None else "shared"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group_of(item)))
