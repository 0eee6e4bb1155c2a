"""Each role's input mapping (__pgbouncer_input, __pgpool_input in vars/main.yml) carries
every variable the role documents for a setting of its file, and names only variables the
role has: a setting added to defaults/main.yml but not to the input would never be written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from poolkit import pgbouncer, pgpool

ROLES = Path(__file__).resolve().parents[2] / "roles"
CASES = [("pgbouncer", pgbouncer.SETTINGS), ("pgpool", pgpool.SETTINGS)]


def load(role: str, part: str) -> dict:
    return yaml.safe_load((ROLES / role / part / "main.yml").read_text())


@pytest.mark.parametrize(("role", "settings"), CASES)
def test_every_variable_named_like_a_setting_is_in_the_input(role, settings):
    prefix = f"{role}_"
    documented = {name.removeprefix(prefix) for name in load(role, "defaults")}
    inputs = load(role, "vars")[f"__{role}_input"]
    assert {key for key in documented if key in settings} - set(inputs) == set()


@pytest.mark.parametrize(("role", "settings"), CASES)
def test_the_input_reads_only_variables_the_role_has(role, settings):
    defaults = load(role, "defaults")
    inputs = load(role, "vars")[f"__{role}_input"]
    for key, value in inputs.items():
        if f"{{{{ {role}_" in value:
            variable = value.split("{{ ")[1].split()[0].rstrip("}")
            assert variable in defaults, (key, variable)
