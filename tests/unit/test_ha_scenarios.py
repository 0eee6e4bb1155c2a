"""molecule/ha-bookworm is molecule/ha on Debian 12: the same plays, tests and group
variables (the members' names aside), so a change to one scenario's cluster or poolers is
not silently left out of the other's."""

from __future__ import annotations

from pathlib import Path

import yaml

MOLECULE = Path(__file__).resolve().parents[2] / "molecule"


def config(scenario: str) -> dict:
    return yaml.safe_load((MOLECULE / scenario / "molecule.yml").read_text())


def test_bookworm_runs_ha_s_plays_and_tests():
    bookworm = config("ha-bookworm")
    assert bookworm["provisioner"]["playbooks"] == {"converge": "../ha/converge.yml"}
    assert bookworm["verifier"]["directory"] == "../ha/tests"
    assert (MOLECULE / "ha-bookworm" / "../ha/converge.yml").is_file()


def test_bookworm_has_ha_s_group_variables_and_groups():
    trixie, bookworm = config("ha"), config("ha-bookworm")
    renamed = yaml.safe_load(
        yaml.safe_dump(trixie["provisioner"]["inventory"]["group_vars"]).replace(
            "-trixie", "-bookworm"
        )
    )
    assert bookworm["provisioner"]["inventory"]["group_vars"] == renamed
    groups = {p["name"].replace("-trixie", ""): p["groups"] for p in trixie["platforms"]}
    assert {p["name"].replace("-bookworm", ""): p["groups"] for p in bookworm["platforms"]} == (
        groups
    )
    assert {p["image"].split(":")[1] for p in bookworm["platforms"]} == {"bookworm"}
