"""Every role documents every variable: meta/argument_specs.yml lists each variable of
defaults/main.yml with the same default (templated defaults are described instead), and
every variable has a comment line above it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROLES = sorted(p.parent.parent for p in Path("roles").glob("*/defaults/main.yml"))


def load(path: Path):
    return yaml.safe_load(path.read_text()) or {}


def spec_options(role: Path) -> dict:
    return load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_every_default_is_in_the_argument_spec(role):
    assert set(load(role / "defaults" / "main.yml")) == set(spec_options(role))


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_spec_defaults_match_role_defaults(role):
    options = spec_options(role)
    for name, value in load(role / "defaults" / "main.yml").items():
        if isinstance(value, str) and "{{" in value:
            assert "default" not in options[name], f"{name}: templated, describe it instead"
        else:
            assert options[name].get("default") == value, name


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_every_default_has_a_comment(role):
    lines = (role / "defaults" / "main.yml").read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^[a-z_]+:", line):
            assert lines[index - 1].startswith("#"), f"{role.name}: {line} has no comment"


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_public_variables_are_role_prefixed(role):
    for name in load(role / "defaults" / "main.yml"):
        assert name.startswith(f"{role.name}_"), name


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_defaults_pass_their_own_choices(role):
    """validate_argument_spec checks the role's defaults too: a default outside `choices`
    (such as null) fails every play that leaves the variable alone."""
    for name, option in spec_options(role).items():
        if "choices" in option and "default" in option:
            assert option["default"] in option["choices"], name
