"""Ansible filters for pgbouncer.ini: thin adapters over ``poolkit.pgbouncer`` and
``poolkit.pgbouncer_plan``.

roles/pgbouncer calls ``poolkit_pgbouncer_plan`` once in preflight (every value it deploys,
checked) and ``poolkit_pgbouncer_version`` / ``poolkit_pgbouncer_restart_keys`` around it;
the others expose the plan's parts for playbooks of your own.

Filters: ``poolkit_pgbouncer_plan``, ``poolkit_pgbouncer_version``, ``poolkit_pgbouncer_settings``,
``poolkit_pgbouncer_databases``, ``poolkit_pgbouncer_users``, ``poolkit_pgbouncer_check``,
``poolkit_pgbouncer_server_connections``, ``poolkit_pgbouncer_nofile``,
``poolkit_pgbouncer_restart_keys``, ``poolkit_pgbouncer_hardened``. Their ansible-doc style
DOCUMENTATION / EXAMPLES / RETURN texts are in ``FILTER_DOCS``, one entry per filter.

Inputs are copied into plain Python data first: AnsibleUnsafeText and other ``str``
subclasses become ``str``, mappings ``dict``, lists and tuples ``list``, vaulted values
their plaintext. Whole-number settings accept numeric strings such as ``"20"`` (what a
templated value like ``"{{ pool_size }}"`` may give) and write them as numbers; any other
string there fails naming the variable.
A ``PoolkitError`` becomes an ``AnsibleFilterError`` with the same message.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ansible.errors import AnsibleFilterError

try:
    from poolkit import PoolkitError, pgbouncer, pgbouncer_plan, values
except ImportError:  # package not installed: use the checkout this plugin lives in
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from poolkit import PoolkitError, pgbouncer, pgbouncer_plan, values

_VERSION_OPTION = r"""
  version:
    description: The PgBouncer version on the host, such as C(1.24.1) (the output of
      C(poolkit_pgbouncer_version)).
    type: string
    required: true"""

FILTER_DOCS: dict[str, dict[str, str]] = {
    "poolkit_pgbouncer_plan": {
        "DOCUMENTATION": r"""
name: poolkit_pgbouncer_plan
short_description: Every value roles/pgbouncer deploys, checked, from its variables
version_added: 0.3.0
author: poolkit
description:
  - Turns the role's variables (names without the C(pgbouncer_) prefix, the role's
    C(__pgbouncer_input)) into one plan, which the templates and handlers read.
  - Each pool figure (C(default_pool_size), C(min_pool_size), C(reserve_pool_size),
    C(reserve_pool_timeout), C(max_client_conn), C(max_db_connections)) is the variable when
    set, else the topology's answer (C(poolkit size)), else PgBouncer's default;
    C(limit_nofile) is the variable when set, else derived from the final figures.
  - Fails listing every problem, one per line, each naming the variable (the checks of
    C(poolkit_pgbouncer_check) and of every section).
options:
  _input:
    description:
      - The role's variables without their prefix, plus C(version) (the PgBouncer release
        about to run), C(auth_file), C(hba_file), C(lookup_query), C(users) (login names),
        C(password_users), C(distribution) and C(distribution_version).
    type: dict
    required: true
""",
        "EXAMPLES": r"""
- name: Plan the deployment
  ansible.builtin.set_fact:
    bouncer_plan: "{{ {'version': '1.24.1', 'topology': pooler_topology,
                         'databases': [{'name': 'app', 'host': 'db1'}], 'users': ['app'],
                         'password_users': ['app']} | poolkit_pgbouncer_plan }}"
""",
        "RETURN": r"""
_value:
  description: C(version), C(sizing), C(figures), C(sources) (variable, topology or
    default per figure), C(server_connections), C(limit_nofile), C(processes), C(peers),
    C(databases), C(users), C(followed), C(followed_replicas) and C(ini) (process name to
    its [pgbouncer] C([key, value]) pairs).
  type: dict
""",
    },
    "poolkit_pgbouncer_version": {
        "DOCUMENTATION": r"""
name: poolkit_pgbouncer_version
short_description: PgBouncer version from C(pgbouncer --version) or a package version
version_added: 0.1.0
author: poolkit
description:
  - Reads C(PgBouncer 1.24.1) (the first line of C(pgbouncer --version)) or a Debian
    package version such as C(1.24.1-1), C(1.18.0-1+b2) or C(1.24.1-1.pgdg120+1).
  - Fails naming the text when no version can be read.
options:
  _input:
    description: The text.
    type: string
    required: true
""",
        "EXAMPLES": r"""
- name: Ask PgBouncer for its version
  ansible.builtin.command: pgbouncer --version
  register: version_output
  changed_when: false

- name: Remember it
  ansible.builtin.set_fact:
    pgbouncer_version: "{{ version_output.stdout | poolkit_pgbouncer_version }}"
""",
        "RETURN": r"""
_value:
  description: C(major.minor.patch), for example C(1.24.1).
  type: string
""",
    },
    "poolkit_pgbouncer_settings": {
        "DOCUMENTATION": r"""
name: poolkit_pgbouncer_settings
short_description: The [pgbouncer] section of pgbouncer.ini for one PgBouncer version
version_added: 0.1.0
author: poolkit
description:
  - Takes the settings the role models (the value of C(pgbouncer_<key>) for each key) and
    the escape hatch C(pgbouncer_extra_settings), and returns the C([key, value]) pairs
    to write, modeled keys in the order of PgBouncer's documentation, extra keys after
    them, sorted.
  - A null value leaves PgBouncer's default (the key is not written).
  - Fails listing every problem, one per line, each naming the variable - a key unknown to
    PgBouncer (with close matches), a key newer than O(version) (for example
    C(max_prepared_statements) on 1.18.0), an extra key the role models, or a malformed
    value.
  - Booleans (also C("True"), C("no") from templates) are written C(1)/C(0), lists
    joined with C(", "), a whole-number setting given as a numeric string (C("20")) as
    that number.
positional: version, extra
options:
  _input:
    description: Setting name to value, for the keys the role models.
    type: dict
    required: true"""
        + _VERSION_OPTION
        + r"""
  extra:
    description: C(pgbouncer_extra_settings), for keys the role does not model.
    type: dict
""",
        "EXAMPLES": r"""
- name: Render the [pgbouncer] section
  vars:
    ini_settings: >-
      {{ {'listen_port': pgbouncer_listen_port, 'pool_mode': pgbouncer_pool_mode,
          'max_prepared_statements': pgbouncer_max_prepared_statements}
         | poolkit_pgbouncer_settings(pgbouncer_version, pgbouncer_extra_settings) }}
  ansible.builtin.debug:
    msg: "{% for pair in ini_settings %}{{ pair[0] }} = {{ pair[1] }}\n{% endfor %}"
""",
        "RETURN": r"""
_value:
  description: C([key, value]) pairs, both strings.
  type: list
  elements: list
""",
    },
    "poolkit_pgbouncer_databases": {
        "DOCUMENTATION": r"""
name: poolkit_pgbouncer_databases
short_description: The [databases] section of pgbouncer.ini
version_added: 0.1.0
author: poolkit
description:
  - Each entry of C(pgbouncer_databases) has a C(name) (C(*) is the fallback entry), a
    C(host) and any of C(port), C(dbname), C(user), C(auth_user), C(auth_dbname) (1.19+),
    C(auth_query) (1.22+), C(pool_size), C(min_pool_size), C(reserve_pool_size),
    C(max_db_connections), C(max_db_client_connections) (1.24+), C(pool_mode),
    C(server_lifetime) (1.23+), C(load_balance_hosts) (1.24+), C(connect_query),
    C(client_encoding), C(datestyle), C(timezone), C(application_name).
  - With O(sizing) (what C(poolkit_size) returns), an entry without C(pool_size),
    C(reserve_pool_size) or C(max_db_connections) takes them from
    C(sizing.pgbouncer.databases) where C(database) is the entry's name; explicit values
    win.
  - C(reserve_pool_size) is written as C(reserve_pool), the name every version reads.
    Values with spaces or quotes are single-quoted, a quote doubled.
  - C(password) is refused (plain text in pgbouncer.ini), as are a missing C(host),
    duplicate names, names PgBouncer cannot read (only letters, digits, C(_ . -)), unknown
    keys and keys newer than O(version); every problem names C(pgbouncer_databases[i] (name).key).
positional: version, sizing
options:
  _input:
    description: C(pgbouncer_databases).
    type: list
    elements: dict
    required: true"""
        + _VERSION_OPTION
        + r"""
  sizing:
    description: The C(poolkit_size) result (the role's C(__pgbouncer_sizing)); null or C({})
      for none.
    type: dict
""",
        "EXAMPLES": r"""
- name: Render the [databases] section
  ansible.builtin.debug:
    msg: >-
      {% for pair in pgbouncer_databases
           | poolkit_pgbouncer_databases(pgbouncer_version, pooler_sizing) %}
      {{ pair[0] }} = {{ pair[1] }}
      {% endfor %}
""",
        "RETURN": r"""
_value:
  description: C([name, connection string]) pairs in the given order, for example
    C(["app", "host=10.0.0.5 port=5432 pool_size=6 reserve_pool=6 max_db_connections=12"]).
  type: list
  elements: list
""",
    },
    "poolkit_pgbouncer_followed": {
        "DOCUMENTATION": r"""
name: poolkit_pgbouncer_followed
short_description: The followed databases' settings, for poolkit follow
version_added: 0.2.0
author: poolkit
description:
  - The entries of C(pgbouncer_databases) with C(follow) equal to O(follow), as a mapping of
    name to settings, each one's [databases] line without the address. C(poolkit follow) writes
    them into the include file with C(host) and C(port) of the Patroni cluster's running leader
    (C(leader)) or of its streaming replicas (C(replicas), a host list).
  - Same checks and sizing merge as C(poolkit_pgbouncer_databases); a followed entry with
    C(host) or C(port) is an error.
options:
  _input:
    description: C(pgbouncer_databases).
    type: list
    elements: dict
    required: true
  version:
    description: The installed PgBouncer version.
    type: str
    required: true
  sizing:
    description: What C(poolkit_size) returns, or none.
    type: dict
  follow:
    description: Which entries, by their C(follow) value.
    type: str
    choices: [leader, replicas]
    default: leader
""",
        "EXAMPLES": r"""
followed: "{{ pgbouncer_databases | poolkit_pgbouncer_followed('1.24.1') }}"
read_only: "{{ pgbouncer_databases | poolkit_pgbouncer_followed('1.24.1', none, 'replicas') }}"
""",
        "RETURN": r"""
_value:
  description: Name to settings of the followed databases.
  type: dict
""",
    },
    "poolkit_pgbouncer_users": {
        "DOCUMENTATION": r"""
name: poolkit_pgbouncer_users
short_description: The [users] section of pgbouncer.ini (per-user pool settings)
version_added: 0.1.0
author: poolkit
description:
  - Each entry of C(pgbouncer_user_settings) has a C(name) and any of C(pool_mode),
    C(pool_size) (1.23+), C(reserve_pool_size) (1.24+), C(max_user_connections),
    C(max_user_client_connections), C(query_timeout), C(idle_transaction_timeout) and
    C(client_idle_timeout) (1.24+).
  - These are per-user settings, not the login users of C(userlist.txt)
    (C(pgbouncer_users)).
  - Every problem names C(pgbouncer_user_settings[i] (name).key).
  - With the sizing (C(poolkit_size)'s answer), the users the topology sizes apart from the
    other users of their database get its pool_size and reserve_pool_size (explicit values
    win); a release without per-user pool sizes fails naming them.
positional: version, sizing
options:
  _input:
    description: C(pgbouncer_user_settings).
    type: list
    elements: dict
    required: true"""
        + _VERSION_OPTION
        + r"""
  sizing:
    description: The dict C(poolkit_size) returns, or null.
    type: dict
""",
        "EXAMPLES": r"""
- name: Render the [users] section
  ansible.builtin.debug:
    msg: >-
      {% for pair in pgbouncer_user_settings | poolkit_pgbouncer_users(pgbouncer_version) %}
      {{ pair[0] }} = {{ pair[1] }}
      {% endfor %}
""",
        "RETURN": r"""
_value:
  description: C([name, settings]) pairs in the given order, for example
    C(["reporter", "pool_mode=session max_user_connections=4"]).
  type: list
  elements: list
""",
    },
    "poolkit_pgbouncer_check": {
        "DOCUMENTATION": r"""
name: poolkit_pgbouncer_check
short_description: Preflight consistency check of the pgbouncer role's variables
version_added: 0.1.0
author: poolkit
description:
  - Fails listing every problem, one per line, each naming the variable(s) to change -
    C(min_pool_size) above C(default_pool_size); a pool (or pool plus reserve) larger
    than its C(max_db_connections) or C(max_user_connections), so it can never fill;
    C(limit_nofile) below the file descriptors one process needs (the sizing's
    C(limits.nofile) formula); C(processes) below 1; C(listen_port) outside 1-65535;
    C(auth_type) other than scram-sha-256, md5, hba or cert; hba without rules;
    C(auth_query) without C(auth_user); an C(auth_user) missing from C(users); no users
    (or admin/stats users missing from them) with scram-sha-256 or md5 and no
    C(auth_query); and every problem C(poolkit_pgbouncer_databases) reports.
  - A null number means PgBouncer's default; a null C(limit_nofile) means systemd's
    default soft limit of 1024.
options:
  _input:
    description:
      - The role's variables without their C(pgbouncer_) prefix - C(default_pool_size),
        C(min_pool_size), C(reserve_pool_size), C(max_client_conn),
        C(max_db_connections), C(max_user_connections), C(limit_nofile), C(processes),
        C(listen_port), C(pool_mode), C(auth_type), C(auth_user), C(auth_query),
        C(auth_hba_rules), C(databases), C(users) (mappings with a C(name), or names),
        C(admin_users), C(stats_users),
        C(version), C(sizing).
    type: dict
    required: true
""",
        "EXAMPLES": r"""
- name: Check the PgBouncer variables before touching the host
  ansible.builtin.assert:
    that:
      - >-
        {{ {'default_pool_size': pgbouncer_default_pool_size,
            'min_pool_size': pgbouncer_min_pool_size,
            'reserve_pool_size': pgbouncer_reserve_pool_size,
            'max_client_conn': pgbouncer_max_client_conn,
            'max_db_connections': pgbouncer_max_db_connections,
            'max_user_connections': pgbouncer_max_user_connections,
            'limit_nofile': pgbouncer_limit_nofile, 'processes': pgbouncer_processes,
            'listen_port': pgbouncer_listen_port, 'pool_mode': pgbouncer_pool_mode,
            'auth_type': pgbouncer_auth_type, 'auth_user': pgbouncer_auth_user,
            'auth_query': pgbouncer_auth_query, 'auth_hba_rules': pgbouncer_auth_hba_rules,
            'databases': pgbouncer_databases, 'users': pgbouncer_users,
            'admin_users': pgbouncer_admin_users, 'stats_users': pgbouncer_stats_users,
            'version': pgbouncer_version, 'sizing': pooler_sizing}
           | poolkit_pgbouncer_check }}
  no_log: true
""",
        "RETURN": r"""
_value:
  description: True when every check passes (otherwise the task fails).
  type: bool
""",
    },
    "poolkit_pgbouncer_server_connections": {
        "DOCUMENTATION": r"""
name: poolkit_pgbouncer_server_connections
short_description: Server connections one PgBouncer process may open
version_added: 0.1.0
author: poolkit
description:
  - Per C(pgbouncer_databases) entry, after the same sizing merge as
    C(poolkit_pgbouncer_databases) - its C(max_db_connections) when set (> 0), since all
    users' pools of the database count against it; else C(pool_size) +
    C(reserve_pool_size), defaulting to O(default_pool_size) / O(reserve_pool_size).
    No entries count as one default pool.
  - With the entries of a sizing this equals the sizing's per-process server connections.
positional: default_pool_size, reserve_pool_size, sizing
options:
  _input:
    description: C(pgbouncer_databases).
    type: list
    elements: dict
    required: true
  default_pool_size:
    description: C(pgbouncer_default_pool_size).
    type: int
    required: true
  reserve_pool_size:
    description: C(pgbouncer_reserve_pool_size).
    type: int
    required: true
  sizing:
    description: The C(poolkit_size) result, or null.
    type: dict
""",
        "EXAMPLES": r"""
- name: Server connections per process
  ansible.builtin.debug:
    msg: >-
      {{ pgbouncer_databases | poolkit_pgbouncer_server_connections(
           pgbouncer_default_pool_size, pgbouncer_reserve_pool_size, pooler_sizing) }}
""",
        "RETURN": r"""
_value:
  description: The number of server connections.
  type: int
""",
    },
    "poolkit_pgbouncer_nofile": {
        "DOCUMENTATION": r"""
name: poolkit_pgbouncer_nofile
short_description: LimitNOFILE for one PgBouncer process
version_added: 0.1.0
author: poolkit
description:
  - The sizing's C(limits.nofile) formula - roundup_1024((max_client_conn + server
    connections) x 1.25 + 64), at least 1024.
positional: server_connections
options:
  _input:
    description: C(pgbouncer_max_client_conn).
    type: int
    required: true
  server_connections:
    description: Server connections per process
      (C(poolkit_pgbouncer_server_connections)).
    type: int
    required: true
""",
        "EXAMPLES": r"""
- name: Default LimitNOFILE
  ansible.builtin.set_fact:
    pgbouncer_limit_nofile: >-
      {{ pgbouncer_max_client_conn | poolkit_pgbouncer_nofile(
           pgbouncer_databases | poolkit_pgbouncer_server_connections(
             pgbouncer_default_pool_size, pgbouncer_reserve_pool_size, pooler_sizing)) }}
""",
        "RETURN": r"""
_value:
  description: The file descriptor limit, a multiple of 1024.
  type: int
""",
    },
    "poolkit_pgbouncer_restart_keys": {
        "DOCUMENTATION": r"""
name: poolkit_pgbouncer_restart_keys
short_description: The changed [pgbouncer] settings that need a restart, not a reload
version_added: 0.1.0
author: poolkit
description:
  - Compares the [pgbouncer] section of the deployed pgbouncer.ini with the new
    C([key, value]) pairs (C(poolkit_pgbouncer_settings)) and returns the keys a RELOAD
    cannot change whose value differs (added or removed counts) - listen_addr,
    listen_port, listen_backlog, unix_socket_dir, unix_socket_mode, unix_socket_group,
    user, pidfile, so_reuseport, pkt_buf, resolv_conf, disable_pqexec, job_name and
    track_extra_parameters (C(SHOW CONFIG) marks them not changeable).
  - Empty O(_input) (nothing deployed yet) gives an empty list.
positional: new_settings
options:
  _input:
    description: The deployed pgbouncer.ini text (for example from C(slurp)), or empty.
    type: string
    required: true
  new_settings:
    description: The new [pgbouncer] pairs.
    type: list
    elements: list
    required: true
""",
        "EXAMPLES": r"""
- name: Restart instead of reload when a setting needs it
  ansible.builtin.set_fact:
    restart_keys: >-
      {{ (ini_current.content | default('') | b64decode)
         | poolkit_pgbouncer_restart_keys(ini_settings) }}
""",
        "RETURN": r"""
_value:
  description: The keys, sorted; empty when a reload is enough.
  type: list
  elements: string
""",
    },
    "poolkit_pgbouncer_hardened": {
        "DOCUMENTATION": r"""
name: poolkit_pgbouncer_hardened
short_description: Startup-parameter and packet-size settings safe for a PgBouncer release
version_added: 0.1.0
author: poolkit
description:
  - Returns ignore_startup_parameters, track_extra_parameters and max_packet_size for
    the release, each as given or, when null, the safe default.
  - On 1.20.0 to 1.26.0 a non-empty ignore_startup_parameters lets one unauthenticated
    packet spin the process (CVE-2026-107349). There a null list stays empty and
    extra_float_digits (which JDBC drivers send) is tracked through track_extra_parameters
    instead. Elsewhere a null list is C([extra_float_digits]).
  - Below 1.26.0 a null max_packet_size is 1073741823, PostgreSQL's own message limit,
    which keeps the buffer overflow of CVE-2026-6668 out of reach.
options:
  _input:
    description: The PgBouncer version on the host, such as C(1.24.1).
    type: string
    required: true
  ignore:
    description: pgbouncer_ignore_startup_parameters (null for the safe default).
    type: list
  track:
    description: pgbouncer_track_extra_parameters.
    type: list
  max_packet_size:
    description: pgbouncer_max_packet_size (null for the safe default).
    type: int
""",
        "EXAMPLES": r"""
- name: Settings that keep PgBouncer 1.24.1 out of CVE-2026-107349 and CVE-2026-6668
  ansible.builtin.set_fact:
    hardened: "{{ '1.24.1' | poolkit_pgbouncer_hardened(none, none, none) }}"
""",
        "RETURN": r"""
_value:
  description: C(ignore_startup_parameters), C(track_extra_parameters), C(max_packet_size).
  type: dict
""",
    },
}


def _call(func, *args):
    try:
        return func(*[values.plain(arg) for arg in args])
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


def poolkit_pgbouncer_plan(inputs):
    """Every value roles/pgbouncer deploys, checked (``poolkit.pgbouncer_plan.plan``)."""
    return _call(pgbouncer_plan.plan, inputs)


def poolkit_pgbouncer_version(text):
    """``"1.24.1"`` from ``pgbouncer --version`` output or a package version."""
    return _call(pgbouncer.parse_version, text)


def poolkit_pgbouncer_settings(settings, version, extra=None):
    """The [pgbouncer] ``[key, value]`` pairs."""
    return _call(pgbouncer.ini_settings, settings, version, extra)


def poolkit_pgbouncer_databases(databases, version, sizing=None):
    """The [databases] ``[name, connection string]`` pairs."""
    return _call(pgbouncer.databases_section, databases, version, sizing)


def poolkit_pgbouncer_followed(databases, version, sizing=None, follow="leader"):
    """``{name: settings}`` of the databases that follow the Patroni leader (or, with
    ``follow='replicas'``, its streaming replicas)."""
    return _call(pgbouncer.followed_databases, databases, version, sizing, follow)


def poolkit_pgbouncer_users(users, version, sizing=None):
    """The [users] ``[name, settings]`` pairs (the sizing's per-user pools included)."""
    return _call(pgbouncer.users_section, users, version, sizing)


def poolkit_pgbouncer_check(config):
    """True, or AnsibleFilterError listing every problem."""
    _call(pgbouncer.check, config)
    return True


def poolkit_pgbouncer_server_connections(
    databases, default_pool_size, reserve_pool_size, sizing=None
):
    """Server connections one PgBouncer process may open."""
    return _call(
        pgbouncer.server_connections_per_process,
        databases,
        default_pool_size,
        reserve_pool_size,
        sizing,
    )


def poolkit_pgbouncer_nofile(max_client_conn, server_connections):
    """LimitNOFILE for one PgBouncer process."""
    return _call(pgbouncer.nofile, max_client_conn, server_connections)


def poolkit_pgbouncer_restart_keys(old_text, new_settings):
    """The changed settings that need a restart."""
    return _call(pgbouncer.restart_required, old_text, new_settings)


def poolkit_pgbouncer_hardened(version, ignore=None, track=None, max_packet_size=None):
    """The startup-parameter and packet-size settings for the release."""
    return _call(pgbouncer.hardened_settings, version, ignore, track, max_packet_size)


class FilterModule:
    """poolkit pgbouncer.ini filters."""

    def filters(self):
        return {
            "poolkit_pgbouncer_plan": poolkit_pgbouncer_plan,
            "poolkit_pgbouncer_version": poolkit_pgbouncer_version,
            "poolkit_pgbouncer_settings": poolkit_pgbouncer_settings,
            "poolkit_pgbouncer_databases": poolkit_pgbouncer_databases,
            "poolkit_pgbouncer_users": poolkit_pgbouncer_users,
            "poolkit_pgbouncer_followed": poolkit_pgbouncer_followed,
            "poolkit_pgbouncer_check": poolkit_pgbouncer_check,
            "poolkit_pgbouncer_server_connections": poolkit_pgbouncer_server_connections,
            "poolkit_pgbouncer_nofile": poolkit_pgbouncer_nofile,
            "poolkit_pgbouncer_restart_keys": poolkit_pgbouncer_restart_keys,
            "poolkit_pgbouncer_hardened": poolkit_pgbouncer_hardened,
        }
