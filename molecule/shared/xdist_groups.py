"""Shared by the scenarios' conftest.py: with pytest-xdist (`-n 2 --dist loadgroup`), every
test of one group runs in one worker, in file order, and the groups side by side. A group is
a host, or the hosts that share a server (inventory variable `test_xdist_group`): their
tests change it (converge, restarts, PAUSE, roles), so they never overlap; groups share
nothing, so they may."""

from __future__ import annotations

import functools

import pytest


@functools.cache
def _group_of_host(host) -> str:
    variables = host.ansible.get_variables()
    return str(variables.get("test_xdist_group") or host.backend.get_pytest_id())


def group_of(item) -> str:
    """The xdist group of a test: its testinfra host's group, or "shared"."""
    callspec = getattr(item, "callspec", None)
    host = callspec.params.get("_testinfra_host") if callspec else None
    return _group_of_host(host) if host is not None else "shared"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group_of(item)))
