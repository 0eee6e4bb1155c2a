"""Ansible filters for Pgpool-II: thin adapters over ``poolkit.pgpool`` and
``poolkit.pgpool_plan``.

roles/pgpool calls ``poolkit_pgpool_plan`` once in preflight (every pgpool.conf line,
checked), and the version, secrets and restart filters around it; the others expose the
plan's parts for playbooks of your own.

Filters: ``poolkit_pgpool_plan``, ``poolkit_pgpool_version``, ``poolkit_pgpool_settings``,
``poolkit_pgpool_backends``, ``poolkit_pgpool_check``, ``poolkit_pgpool_passwd``,
``poolkit_pgpool_pcp_conf``, ``poolkit_pgpool_restart_keys``. Their ansible-doc style
DOCUMENTATION / EXAMPLES / RETURN texts are in ``FILTER_DOCS``, one entry per filter.

Inputs are copied into plain Python data first: AnsibleUnsafeText and other ``str``
subclasses become ``str``, mappings ``dict``, lists and tuples ``list``, vaulted values
their plaintext. Whole-number settings accept numeric strings such as ``"32"`` (what a
templated default may give) and write them as numbers; any other string there fails
naming the variable. A ``PoolkitError`` becomes an ``AnsibleFilterError`` with the same
message (messages never contain a password or the pool key).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ansible.errors import AnsibleFilterError

try:
    from poolkit import PoolkitError, pgpool, pgpool_plan, values
except ImportError:  # package not installed: use the checkout this plugin lives in
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from poolkit import PoolkitError, pgpool, pgpool_plan, values

_VERSION_OPTION = r"""
  version:
    description: The Pgpool-II version on the host, such as C(4.6.1) (the output of
      C(poolkit_pgpool_version)).
    type: string
    required: true"""

FILTER_DOCS: dict[str, dict[str, str]] = {
    "poolkit_pgpool_plan": {
        "DOCUMENTATION": r"""
name: poolkit_pgpool_plan
short_description: Every pgpool.conf line roles/pgpool writes, checked, from its variables
version_added: 0.3.0
author: poolkit
description:
  - Turns the role's variables (names without the C(pgpool_) prefix, the role's
    C(__pgpool_input)) into one plan, which the template and the restart decision read.
  - C(num_init_children) and C(max_pool) are the variable when set, else the topology's
    answer (C(poolkit size), for a topology with a C(pgpool) section), else Pgpool-II's
    default.
  - Fails listing every problem, one per line, each naming the variable (the checks of
    C(poolkit_pgpool_check), C(poolkit_pgpool_settings) and C(poolkit_pgpool_backends)).
options:
  _input:
    description:
      - The role's variables without their prefix, plus C(version) (the Pgpool-II release
        about to run); C(users) and C(pcp_users) as names.
    type: dict
    required: true
""",
        "EXAMPLES": r"""
- name: Plan the deployment
  ansible.builtin.set_fact:
    pool_plan: "{{ {'version': '4.6.1', 'topology': pooler_topology,
                    'backends': [{'hostname': 'db1', 'port': 5432}],
                    'health_check_user': 'check', 'sr_check_user': 'check',
                    'users': ['app', 'check']} | poolkit_pgpool_plan }}"
""",
        "RETURN": r"""
_value:
  description: C(version), C(sizing), C(figures), C(sources) (variable, topology or
    default per figure) and C(conf) (pgpool.conf's C([key, value]) lines).
  type: dict
""",
    },
    "poolkit_pgpool_version": {
        "DOCUMENTATION": r"""
name: poolkit_pgpool_version
short_description: Pgpool-II version from C(pgpool --version) or a package version
version_added: 0.1.0
author: poolkit
description:
  - Reads C(pgpool-II version 4.6.1 (chirikoboshi)) (the output of C(pgpool --version))
    or a Debian package version such as C(4.3.5-1+deb12u1), C(4.6.1-2) or
    C(4.6.1-1.pgdg120+1).
  - Fails naming the text when no version can be read.
options:
  _input:
    description: The text.
    type: string
    required: true
""",
        "EXAMPLES": r"""
- name: Ask Pgpool-II for its version
  ansible.builtin.command: pgpool --version
  register: version_output
  changed_when: false

- name: Remember it
  ansible.builtin.set_fact:
    pgpool_version: "{{ version_output.stdout | poolkit_pgpool_version }}"
""",
        "RETURN": r"""
_value:
  description: C(major.minor.patch), for example C(4.6.1).
  type: string
""",
    },
    "poolkit_pgpool_settings": {
        "DOCUMENTATION": r"""
name: poolkit_pgpool_settings
short_description: The pgpool.conf settings for one Pgpool-II version
version_added: 0.1.0
author: poolkit
description:
  - Takes the settings the role models (the value of C(pgpool_<key>) for each key) and
    the escape hatch C(pgpool_extra_settings), and returns the C([key, value]) pairs to
    write as C(key = value), modeled keys in the order of the sample pgpool.conf, extra
    keys after them, sorted. Backends are separate (C(poolkit_pgpool_backends)).
  - A null value leaves Pgpool-II's default (the key is not written).
  - Values come ready to write - strings, enums and lists single-quoted, booleans (also
    C("True"), C("no") from templates) C(on)/C(off), whole numbers bare (numeric strings
    such as C("32") too), file modes in octal; a YAML list is joined with C(,) (C(;) for
    C(reset_query_list) and C(primary_routing_query_pattern_list)) without blanks.
  - The socket directories are always C(unix_socket_directories) (and the virtual IP
    C(delegate_ip)); for Pgpool-II 4.3, which reads the pre-4.4 names, the pair is named
    C(socket_dir) (C(delegate_IP)). Giving the old names fails.
  - Pgpool-II ignores a key it does not know without a word (it logs it at INFO), so this
    filter fails instead, listing every problem, one per line, each naming the variable -
    an unknown key (with close matches), a key of another version (for example
    C(log_backend_messages) on 4.3), an extra key the role models, a backend, per-backend
    or watchdog node key, or a malformed value. A value cannot hold a single quote or a
    line break (pgpool.conf has no way to write them).
positional: version, extra
options:
  _input:
    description: Setting name to value, for the keys the role models.
    type: dict
    required: true"""
        + _VERSION_OPTION
        + r"""
  extra:
    description: C(pgpool_extra_settings), for keys the role does not model.
    type: dict
""",
        "EXAMPLES": r"""
- name: Render the settings of pgpool.conf
  vars:
    conf_settings: >-
      {{ {'port': pgpool_port, 'num_init_children': pgpool_num_init_children,
          'max_pool': pgpool_max_pool,
          'unix_socket_directories': pgpool_unix_socket_directories}
         | poolkit_pgpool_settings(pgpool_version, pgpool_extra_settings) }}
  ansible.builtin.debug:
    msg: "{% for pair in conf_settings %}{{ pair[0] }} = {{ pair[1] }}\n{% endfor %}"
""",
        "RETURN": r"""
_value:
  description: C([key, value]) pairs, both strings, for example
    C(["unix_socket_directories", "'/run/postgresql'"]) or C(["num_init_children", "32"]).
  type: list
  elements: list
""",
    },
    "poolkit_pgpool_backends": {
        "DOCUMENTATION": r"""
name: poolkit_pgpool_backends
short_description: The backend_*N settings of pgpool.conf
version_added: 0.1.0
author: poolkit
description:
  - Each entry of C(pgpool_backends) has a C(hostname) and any of C(port) (default 5432,
    1024-65535), C(weight) (default 1, a number from 0 to 100000000), C(flag)
    (C(ALLOW_TO_FAILOVER), C(DISALLOW_TO_FAILOVER), C(ALWAYS_PRIMARY), or a list of them),
    C(data_directory) and C(application_name); entry i becomes backend_hostnameI,
    backend_portI, ...
  - Port and weight are always written - Pgpool-II treats a backend without a port as
    down and gives one without a weight the weight 0.
  - Fails listing every problem, each naming C(pgpool_backends[i]) - no backends, a
    missing hostname, an unknown key, a port or weight out of range, an unknown flag,
    C(ALLOW_TO_FAILOVER) with C(DISALLOW_TO_FAILOVER), C(ALWAYS_PRIMARY) on two backends,
    the same host and port twice, every weight 0.
positional: version
options:
  _input:
    description: C(pgpool_backends).
    type: list
    elements: dict
    required: true"""
        + _VERSION_OPTION
        + "\n",
        "EXAMPLES": r"""
- name: Render the backends
  ansible.builtin.debug:
    msg: >-
      {% for pair in pgpool_backends | poolkit_pgpool_backends(pgpool_version) %}
      {{ pair[0] }} = {{ pair[1] }}
      {% endfor %}
""",
        "RETURN": r"""
_value:
  description: C([key, value]) pairs, for example C(["backend_hostname0", "'10.0.0.5'"]),
    C(["backend_port0", "5432"]).
  type: list
  elements: list
""",
    },
    "poolkit_pgpool_check": {
        "DOCUMENTATION": r"""
name: poolkit_pgpool_check
short_description: Preflight consistency check of the pgpool role's variables
version_added: 0.1.0
author: poolkit
description:
  - Fails listing every problem, one per line, each naming the variable(s) to change -
    nodes x num_init_children x max_pool (x 2 when C(query_cancel), as query cancellation
    needs a second connection per child) above the backends' budget
    (C(backend_max_connections) - C(backend_superuser_reserved_connections) -
    C(backend_reserved_connections) - C(backend_other_connections), or the sizing's
    C(budget.pgpool_share)), with every number and the largest num_init_children that
    fits; C(reserved_connections) not below C(num_init_children); in dynamic process
    management, C(max_spare_children) above C(num_init_children) or not above
    C(min_spare_children); every problem C(poolkit_pgpool_backends) reports;
    C(health_check_user) and C(sr_check_user) missing on 4.6 (whose defaults are empty),
    when health checks run, or (sr_check_user) in streaming replication mode, where
    Pgpool-II finds the primary as that user; a check user without password that is not
    in C(users), or only has an md5 entry.
  - A null number means Pgpool-II's default (num_init_children 32, max_pool 4).
options:
  _input:
    description:
      - The role's variables without their C(pgpool_) prefix - C(version),
        C(num_init_children), C(max_pool), C(reserved_connections),
        C(process_management_mode), C(min_spare_children), C(max_spare_children),
        C(nodes), C(query_cancel), C(backend_max_connections),
        C(backend_superuser_reserved_connections), C(backend_reserved_connections),
        C(backend_other_connections), C(sizing), C(backends),
        C(backend_clustering_mode), C(health_check_period), C(health_check_user),
        C(health_check_password), C(sr_check_period), C(sr_check_user),
        C(sr_check_password), C(users), C(pool_passwd_method).
    type: dict
    required: true
""",
        "EXAMPLES": r"""
- name: Check the Pgpool-II variables before touching the host
  ansible.builtin.assert:
    that:
      - >-
        {{ {'version': pgpool_version,
            'num_init_children': pgpool_num_init_children, 'max_pool': pgpool_max_pool,
            'reserved_connections': pgpool_reserved_connections,
            'nodes': pgpool_nodes, 'query_cancel': pgpool_query_cancel,
            'backend_max_connections': pgpool_backend_max_connections,
            'sizing': pgpool_topology | poolkit_size, 'backends': pgpool_backends,
            'health_check_period': pgpool_health_check_period,
            'health_check_user': pgpool_health_check_user,
            'sr_check_user': pgpool_sr_check_user, 'users': pgpool_users,
            'pool_passwd_method': pgpool_pool_passwd_method}
           | poolkit_pgpool_check }}
  no_log: true
""",
        "RETURN": r"""
_value:
  description: True when every check passes (otherwise the task fails).
  type: bool
""",
    },
    "poolkit_pgpool_passwd": {
        "DOCUMENTATION": r"""
name: poolkit_pgpool_passwd
short_description: The pool_passwd file, AES-encrypted (or md5) entries, idempotent
version_added: 0.1.0
author: poolkit
description:
  - One line per user of O(_input) (C({name, password}) mappings), sorted by name, in the
    format C(pg_enc -m) writes - C(user:AES<base64>) - or with O(method=md5) the one
    C(pg_md5 -m) writes - C(user:md5<hex>).
  - AES is what Pgpool-II needs to log in to SCRAM backends (it decrypts the password
    with the key of its C(.pgpoolkey) file); md5 entries only let it check clients that
    use md5.
  - A line of O(existing) is kept byte for byte when it still decrypts (matches) to the
    same password, so a second run writes the same file; users not in O(_input) are
    dropped.
  - Fails naming C(pgpool_users[i]) for a missing name or password, a name with C(:) or
    C(\), a duplicate, a password longer than 79 bytes for AES (Pgpool-II cannot decrypt
    longer ones), or a missing key. Messages never contain a password or the key.
positional: existing, key, method
options:
  _input:
    description: C(pgpool_users), a list of C({name, password}).
    type: list
    elements: dict
    required: true
  existing:
    description: The deployed pool_passwd text (for example from C(slurp)), or empty.
    type: string
  key:
    description: The encryption key (the first line of the C(.pgpoolkey) file).
    type: string
  method:
    description: C(aes) or C(md5).
    type: string
    default: aes
""",
        "EXAMPLES": r"""
- name: Render pool_passwd
  ansible.builtin.copy:
    dest: /etc/pgpool2/pool_passwd
    content: >-
      {{ pgpool_users | poolkit_pgpool_passwd(
           passwd_current.content | default('') | b64decode,
           pgpool_pool_key, pgpool_pool_passwd_method) }}
    owner: postgres
    mode: "0600"
  no_log: true
""",
        "RETURN": r"""
_value:
  description: The file text, each line ending in a newline; empty for no users.
  type: string
""",
    },
    "poolkit_pgpool_pcp_conf": {
        "DOCUMENTATION": r"""
name: poolkit_pgpool_pcp_conf
short_description: The pcp.conf file with md5 hashes
version_added: 0.1.0
author: poolkit
description:
  - One line C(user:md5hex) per C({name, password}) of O(_input), sorted by name, the
    hash being the md5 of the password alone (what C(pg_md5 PASSWORD) prints). md5 has
    no salt, so the same password always gives the same file.
  - Fails naming C(pgpool_pcp_users[i]) for a missing name or password, a duplicate, or a
    name pcp.conf cannot hold (C(:), blanks, a leading C(#)).
options:
  _input:
    description: C(pgpool_pcp_users), a list of C({name, password}).
    type: list
    elements: dict
    required: true
""",
        "EXAMPLES": r"""
- name: Render pcp.conf
  ansible.builtin.copy:
    dest: /etc/pgpool2/pcp.conf
    content: "{{ pgpool_pcp_users | poolkit_pgpool_pcp_conf }}"
    mode: "0600"
  no_log: true
""",
        "RETURN": r"""
_value:
  description: The file text, each line ending in a newline.
  type: string
""",
    },
    "poolkit_pgpool_restart_keys": {
        "DOCUMENTATION": r"""
name: poolkit_pgpool_restart_keys
short_description: The pgpool.conf changes a reload does not apply
version_added: 0.1.0
author: poolkit
description:
  - Compares the deployed pgpool.conf text with the new C([key, value]) pairs (the
    output of C(poolkit_pgpool_settings) plus C(poolkit_pgpool_backends)) and returns the
    keys, sorted, whose change needs a restart of Pgpool-II; an empty list means a reload
    (C(pgpool reload), SIGHUP) applies every change.
  - A key added or removed counts as changed; comments, quoting, blanks and the spelling
    of a boolean or number do not.
  - Reloadable are the keys the Pgpool-II documentation marks "can be changed by
    reloading" (and 4.3.5 and 4.6.1 were measured to apply), plus backend_weightN,
    backend_flagN and backend_application_nameN of a backend whose backend_hostnameN
    stays the same. Everything else needs a restart - for example num_init_children,
    max_pool, port, listen_addresses, load_balance_mode, child_life_time,
    connection_life_time, reserved_connections, a backend's host, port or data
    directory, an added or removed backend (Pgpool-II would keep a backend added by a
    reload down), and any key poolkit does not know.
  - An empty O(_input) (nothing deployed yet) gives an empty list - the first start reads
    everything.
positional: new_settings
options:
  _input:
    description: The deployed pgpool.conf text (for example from C(slurp)), or empty.
    type: string
    required: true
  new_settings:
    description: The new C([key, value]) pairs.
    type: list
    elements: list
    required: true
""",
        "EXAMPLES": r"""
- name: Read the deployed pgpool.conf
  ansible.builtin.slurp:
    src: /etc/pgpool2/pgpool.conf
  register: conf_current
  failed_when: false

- name: Restart or reload
  ansible.builtin.set_fact:
    restart_keys: >-
      {{ (conf_current.content | default('') | b64decode)
         | poolkit_pgpool_restart_keys(conf_settings + conf_backends) }}
""",
        "RETURN": r"""
_value:
  description: The keys needing a restart, sorted, for example C(["num_init_children"]);
    empty when a reload is enough.
  type: list
  elements: string
""",
    },
}


def _call(func, *args):
    try:
        return func(*[values.plain(arg) for arg in args])
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


def poolkit_pgpool_plan(inputs):
    """Every pgpool.conf line roles/pgpool writes, checked (``poolkit.pgpool_plan.plan``)."""
    return _call(pgpool_plan.plan, inputs)


def poolkit_pgpool_version(text):
    """``"4.6.1"`` from ``pgpool --version`` output or a package version."""
    return _call(pgpool.parse_version, text)


def poolkit_pgpool_settings(settings, version, extra=None):
    """The pgpool.conf ``[key, value]`` pairs."""
    return _call(pgpool.conf_settings, settings, version, extra)


def poolkit_pgpool_backends(backends, version):
    """The backend_*N ``[key, value]`` pairs."""
    return _call(pgpool.backends_section, backends, version)


def poolkit_pgpool_check(config):
    """True, or AnsibleFilterError listing every problem."""
    _call(pgpool.check, config)
    return True


def poolkit_pgpool_passwd(users, existing=None, key=None, method="aes"):
    """The pool_passwd text."""
    return _call(pgpool.render_pool_passwd, users, existing, key, method)


def poolkit_pgpool_pcp_conf(users):
    """The pcp.conf text."""
    return _call(pgpool.render_pcp_conf, users)


def poolkit_pgpool_restart_keys(old_text, new_settings):
    """The keys whose change needs a restart (sorted); [] when a reload is enough."""
    return _call(pgpool.restart_required, old_text, new_settings)


class FilterModule:
    """poolkit Pgpool-II filters."""

    def filters(self):
        return {
            "poolkit_pgpool_plan": poolkit_pgpool_plan,
            "poolkit_pgpool_version": poolkit_pgpool_version,
            "poolkit_pgpool_settings": poolkit_pgpool_settings,
            "poolkit_pgpool_backends": poolkit_pgpool_backends,
            "poolkit_pgpool_check": poolkit_pgpool_check,
            "poolkit_pgpool_passwd": poolkit_pgpool_passwd,
            "poolkit_pgpool_pcp_conf": poolkit_pgpool_pcp_conf,
            "poolkit_pgpool_restart_keys": poolkit_pgpool_restart_keys,
        }
