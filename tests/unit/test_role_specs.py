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


def entry_points(role: Path) -> list[str]:
    """Task files whose header says they are an entry point (tasks_from)."""
    return sorted(
        path.stem
        for path in (role / "tasks").glob("*.yml")
        if "Entry point" in "".join(path.read_text().splitlines(keepends=True)[:3])
    )


ENTRY_POINTS = [(role, name) for role in ROLES for name in entry_points(role)]


def public_variables_used(role: Path, name: str) -> set[str]:
    """The role's variables an entry point's tasks read: in its file, the files it includes,
    and (transitively) the internal variables of vars/main.yml they use."""
    files, text, seen = [f"{name}.yml"], "", set()
    while files:
        current = files.pop()
        if current in seen:
            continue
        seen.add(current)
        body = (role / "tasks" / current).read_text()
        text += body
        files += re.findall(r"include_tasks: ([a-z_]+\.yml)", body)
    internal = load(role / "vars" / "main.yml")
    pending, done = set(re.findall(rf"\b__{role.name}_[a-z0-9_]+", text)), set()
    while pending - done:
        var = (pending - done).pop()
        done.add(var)
        if var in internal:
            body = yaml.safe_dump(internal[var])
            text += body
            pending |= set(re.findall(rf"\b__{role.name}_[a-z0-9_]+", body))
    public = set(load(role / "defaults" / "main.yml"))
    return {v for v in re.findall(rf"(?<![_a-z]){role.name}_[a-z0-9_]+", text) if v in public}


@pytest.mark.parametrize(
    ("role", "name"), ENTRY_POINTS, ids=[f"{r.name}-{n}" for r, n in ENTRY_POINTS]
)
def test_every_entry_point_has_an_argument_spec_of_the_variables_it_reads(role, name):
    specs = load(role / "meta" / "argument_specs.yml")["argument_specs"]
    assert name in specs, f"{role.name}: tasks/{name}.yml is an entry point without a spec"
    options = specs[name]["options"]
    assert set(options) == public_variables_used(role, name)
    for option, spec in options.items():
        assert spec == specs["main"]["options"][option], f"{name}.{option} differs from main"


def test_the_entry_points_are_found():
    assert {(r.name, n) for r, n in ENTRY_POINTS} >= {
        ("pgbouncer", "pause"),
        ("pgbouncer", "resume"),
        ("pgbouncer", "rolling_restart"),
        ("pgpool", "attach"),
    }
