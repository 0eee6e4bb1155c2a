"""Ansible filter ``poolkit_advisories``: a thin adapter over ``poolkit.advisories``, which
the pgbouncer and pgpool roles call in preflight with the settings about to be written."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.poolkit.poolkit.plugins.plugin_utils.poolkit_requirement import (
    poolkit_filters,
)

try:
    from poolkit import PoolkitError, advisories, values
except ImportError as exc:  # the controller's Python lacks poolkit: each filter says so
    POOLKIT_IMPORT_ERROR: ImportError | None = exc
else:
    POOLKIT_IMPORT_ERROR = None


def poolkit_advisories(
    pairs: Any,
    product: Any,
    version: Any,
    accepted: Any = (),
    package_version: Any = None,
    hba_methods: Any = (),
) -> list[str]:
    try:
        pairs, accepted, hba_methods = (values.plain(v) for v in (pairs, accepted, hba_methods))
        settings = advisories.settings_from_pairs(pairs, hba_methods or [])
        return advisories.check(
            str(product),
            str(version),
            settings,
            accepted if accepted is not None else [],
            str(package_version) if package_version else None,
            f"{product}_accepted_advisories",
        )
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return poolkit_filters(
            {"poolkit_advisories": poolkit_advisories},
            POOLKIT_IMPORT_ERROR,
        )
