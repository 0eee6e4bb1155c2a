"""The local stack's settings: .env.example documents exactly the variables
docker-compose.yml reads, with the same defaults, and compose/vars.yml reads only those."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = (ROOT / "docker-compose.yml").read_text()
VARS = (ROOT / "compose" / "vars.yml").read_text()


def example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def compose_defaults() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for name, default in re.findall(r"\$\{(POOLKIT_\w+):-([^}]*)\}", COMPOSE):
        found.setdefault(name, set()).add(default)
    return found


def test_every_compose_variable_is_in_env_example():
    assert set(compose_defaults()) == set(example())


def test_each_compose_variable_has_one_default_equal_to_the_example():
    defaults = compose_defaults()
    assert all(len(values) == 1 for values in defaults.values()), defaults
    assert {name: values.pop() for name, values in defaults.items()} == example()


def test_compose_vars_read_only_what_the_config_service_gets():
    config_service = COMPOSE.split("\n  config:\n", 1)[1].split("\n\n", 1)[0]
    given = set(re.findall(r"^      (POOLKIT_\w+):", config_service, re.MULTILINE))
    read = set(re.findall(r"lookup\('ansible\.builtin\.env', '(\w+)'\)", VARS))
    assert read == given
