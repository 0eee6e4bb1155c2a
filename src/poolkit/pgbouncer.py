"""PgBouncer configuration by version: pgbouncer.ini sections, preflight checks, restarts.

Pure functions behind the ``poolkit_pgbouncer_*`` Ansible filters
(plugins/filter/poolkit_pgbouncer.py) and the pgbouncer role's plan
(`poolkit.pgbouncer_plan`). This module is the one place to import them from; each job
lives in a module of its own:

* `poolkit.pgbouncer_tables`: what each release reads (keys, first releases, reload or
  restart, defaults) and version parsing;
* `poolkit.pgbouncer_settings`: the [pgbouncer] section and the release's safe defaults;
* `poolkit.pgbouncer_sections`: [databases], [users], the followed databases, server
  connections and the file limit;
* `poolkit.pgbouncer_preflight`: every consistency problem of the role's variables;
* here: reading a deployed pgbouncer.ini and deciding between reload and restart.

Versions are strings such as ``"1.24.1"`` throughout; `parse_version` reads the output
of ``pgbouncer --version`` or a Debian package version.

Every user-fixable problem raises one `PoolkitError` listing each problem on its own
line, each naming the Ansible variable to change (``pgbouncer_<key>``,
``pgbouncer_extra_settings.<key>``, ``pgbouncer_databases[i] (name).key``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

from poolkit.pgbouncer_preflight import (  # noqa: F401 (the module's public names)
    EXPORTER_DEBIAN_MIN,
    check,
)
from poolkit.pgbouncer_sections import (  # noqa: F401 (the module's public names)
    FOLLOW_CHOICES,
    HOST_LIST_VERIFY_FULL_FROM,
    connstr_value,
    databases_section,
    followed_databases,
    held_databases,
    host_lists_connect,
    nofile,
    server_connections_per_process,
    users_section,
)
from poolkit.pgbouncer_settings import (  # noqa: F401 (the module's public names)
    hardened_settings,
    ini_settings,
)
from poolkit.pgbouncer_tables import (  # noqa: F401 (the module's public names)
    _LISTS,
    AUTH_TYPES,
    DATABASE_KEYS,
    DEFAULTS,
    INTEGER_SETTINGS,
    NAME_PATTERN,
    NEWEST,
    OLDEST,
    PGBOUNCER,
    POOL_MODES,
    REMOVED,
    RESTART_KEYS,
    SETTINGS,
    SSL_MODES,
    SUPPORTED_AUTH_TYPES,
    SYSTEMD_NOFILE,
    USER_KEYS,
    keys_read_by,
    parse_version,
)
from poolkit.settings import restart_keys

# ------------------------------------------------------------------------- restarts


def ini_section(text: str, name: str) -> dict[str, str]:
    """``{key: value}`` of one section of pgbouncer.ini text (keys lower-cased; comments
    and %include lines skipped), e.g. to compare a deployed file with ``poolkit size``."""
    values: dict[str, str] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in ";#" or line.startswith("%"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip().lower()
            continue
        if current == name and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip().lower()] = value.strip()
    return values


def _normal(key: str, value: str | None) -> str | None:
    if value is None or key not in _LISTS:
        return value
    return ",".join(part.strip() for part in value.split(","))


def restart_required(old_ini_text: str, new_settings: Sequence[Sequence[str]]) -> list[str]:
    """The `RESTART_KEYS` whose value differs between the deployed pgbouncer.ini and the
    new [pgbouncer] pairs (sorted; a key added or removed differs too).

    Empty `old_ini_text` (nothing deployed yet) gives [], since a first start reads
    everything. The role restarts PgBouncer when the list is not empty, else reloads.
    """
    return restart_keys(
        old_ini_text,
        new_settings,
        file="pgbouncer.ini",
        parse=lambda text: ini_section(text, "pgbouncer"),
        pair=lambda key, value: (key.strip().lower(), value.strip()),
        comparable=_normal,
        restarts=lambda key, old, new: key in RESTART_KEYS,
    )
