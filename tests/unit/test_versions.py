"""One version for the collection, the package and the changelog: the package's
__version__ (pyproject.toml reads it) is the one galaxy.yml, requirements.txt and the newest
CHANGELOG.md entry must repeat."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import poolkit

ROOT = Path(__file__).resolve().parents[2]


def test_galaxy_yml_has_the_package_version():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
    assert galaxy["version"] == poolkit.__version__


def test_requirements_pin_the_package_of_this_version():
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    pins = [line for line in lines if line and not line.startswith("#")]
    assert pins == [f"poolkit=={poolkit.__version__}"]


def test_newest_changelog_entry_is_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## (\S+)", changelog, re.MULTILINE)
    assert versions[0] == poolkit.__version__


def test_pyproject_takes_the_version_from_the_package():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = {attr = "poolkit.__version__"}' in pyproject
