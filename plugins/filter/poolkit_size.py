"""Ansible filter ``poolkit_size``: a thin adapter over ``poolkit.sizing.size_dict``.

The roles call it on ``pooler_topology`` to compute their defaults, so no arithmetic lives
in Jinja; the numbers are exactly those ``poolkit size TOPOLOGY --format json`` prints.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.poolkit.poolkit.plugins.plugin_utils.poolkit_requirement import (
    poolkit_filters,
)

try:
    from poolkit import PoolkitError
    from poolkit.sizing import size_dict
except ImportError as exc:  # the controller's Python lacks poolkit: each filter says so
    POOLKIT_IMPORT_ERROR: ImportError | None = exc
else:
    POOLKIT_IMPORT_ERROR = None


def poolkit_size(topology: Any, explain: bool = False) -> dict[str, Any]:
    """Return the sizing of `topology`; a PoolkitError becomes an AnsibleFilterError."""
    try:
        return size_dict(topology, explain=bool(explain))
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return poolkit_filters(
            {"poolkit_size": poolkit_size},
            POOLKIT_IMPORT_ERROR,
        )
