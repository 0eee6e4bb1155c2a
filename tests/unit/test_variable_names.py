"""Names that cannot drift: every role variable a message, a filter's documentation or a
task names exists in that role (defaults/main.yml), so an error never sends the user to a
variable the role does not have (as `pgbouncer_sizing` and `pgpool_sizing` once did)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(
    r"(?<![\w./-])((?:pgbouncer|pgpool|patroni)_[a-z0-9_]*[a-z0-9])\b(?!\.(?:ini|conf|py))"
)

#: Names of that form that are not role variables, and what they are.
NOT_VARIABLES = {
    "pgbouncer_exporter": "prometheus-community's exporter program",
    "pgbouncer_hba": "the file pgbouncer_hba.conf",
    "pgbouncer_share": "a key of poolkit size's budget",
    "pgpool_share": "a key of poolkit size's budget",
    "pgbouncer_worst_case": "a key of poolkit size's budget",
    "pgpool_worst_case": "a key of poolkit size's budget",
    "pgbouncer_surviving_processes": "a key of poolkit size's budget",
}

#: The modules whose messages name role variables (monitoring and status name metrics).
MESSAGE_MODULES = [
    "src/poolkit/pgbouncer.py",
    "src/poolkit/pgpool.py",
    "src/poolkit/pgpool_passwd.py",
    "src/poolkit/settings.py",
    "src/poolkit/sizing.py",
    "src/poolkit/sizing_base.py",
    "src/poolkit/sizing_steps.py",
    "src/poolkit/values.py",
    "src/poolkit/advisories.py",
    "src/poolkit/verifiers.py",
    "src/poolkit/follower.py",
    "src/poolkit/switchover.py",
]


def role_variables() -> set[str]:
    names: set[str] = set()
    for defaults in ROOT.glob("roles/*/defaults/main.yml"):
        names |= set(yaml.safe_load(defaults.read_text()) or {})
    return names


KNOWN = role_variables()


def strings_of(path: Path) -> list[str]:
    """The string constants of a module, but a bare identifier (a dict key such as
    "patroni_endpoints" in ``config.get(...)``, not a message); a side-car .yml whole."""
    if path.suffix == ".yml":
        return [path.read_text()]
    tree = ast.parse(path.read_text())
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and not n.value.isidentifier()
    ]


def unknown(texts: list[str]) -> set[str]:
    return {
        name
        for text in texts
        for name in VARIABLE.findall(text)
        if name not in KNOWN and name not in NOT_VARIABLES
    }


@pytest.mark.parametrize("module", MESSAGE_MODULES)
def test_messages_name_only_variables_the_roles_have(module):
    assert unknown(strings_of(ROOT / module)) == set()


@pytest.mark.parametrize(
    "plugin", sorted(p.name for p in (ROOT / "plugins" / "filter").glob("poolkit_*.*"))
)
def test_filter_documentation_names_only_variables_the_roles_have(plugin):
    # Names an example defines for itself (register:, set_fact keys) carry no role prefix.
    assert unknown(strings_of(ROOT / "plugins" / "filter" / plugin)) == set()


def test_the_check_finds_a_drifted_name():
    assert unknown(["pgbouncer_sizing: expected a dict"]) == {"pgbouncer_sizing"}
    assert unknown(["pgbouncer_default_pool_size: 0"]) == set()
