"""plugins/filter/poolkit_advisories.py, loaded by path and called as the roles call it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import AnsibleUnsafeText

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "poolkit_advisories.py"
spec = importlib.util.spec_from_file_location("poolkit_advisories_filter_under_test", PLUGIN)
plugin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plugin)
advisories_filter = plugin.FilterModule().filters()["poolkit_advisories"]

# What poolkit_pgbouncer_settings renders for Debian 13 with the role's defaults.
PAIRS = [
    ["auth_type", "scram-sha-256"],
    ["track_extra_parameters", "IntervalStyle, extra_float_digits"],
    ["max_packet_size", "1073741823"],
]


def test_an_exposed_advisory_fails_naming_the_cve_and_the_variable():
    with pytest.raises(AnsibleFilterError, match="CVE-2026-107350") as exc:
        advisories_filter(PAIRS, "pgbouncer", "1.24.1", [], "1.24.1-1+deb13u2")
    assert "pgbouncer_accepted_advisories" in str(exc.value)


def test_accepted_advisories_pass_and_every_advisory_is_reported():
    accepted = [
        AnsibleUnsafeText(c) for c in ("CVE-2026-107350", "CVE-2026-19888", "CVE-2026-6669")
    ]
    lines = advisories_filter(PAIRS, "pgbouncer", "1.24.1", accepted, "1.24.1-1+deb13u2")
    assert any(line.startswith("CVE-2026-107349 [mitigated]") for line in lines)
    assert any(line.startswith("CVE-2026-6667 [fixed]") for line in lines)


def test_hba_methods_decide_pgpools_certificate_advisory():
    pairs = [["enable_pool_hba", "on"]]
    with pytest.raises(AnsibleFilterError, match="CVE-2026-92868"):
        advisories_filter(pairs, "pgpool", "4.6.1", [], "4.6.1-2", ["scram-sha-256", "cert"])
    assert advisories_filter(pairs, "pgpool", "4.6.1", [], "4.6.1-2", ["scram-sha-256"])
