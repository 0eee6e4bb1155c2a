"""The advisory table and the preflight decision for each entry (poolkit.advisories)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from poolkit import PoolkitError, advisories, pgbouncer
from poolkit.advisories import ACCEPTED, ADVISORIES, EXPOSED, FIXED, MITIGATED
from poolkit.status import Report, advisory_report

# Per advisory: settings that expose it, and settings that do not (None: only an upgrade
# helps, every configuration of an affected release is exposed).
CASES: dict[str, tuple[dict[str, str], dict[str, str] | None]] = {
    "CVE-2026-107349": ({"ignore_startup_parameters": "extra_float_digits"}, {}),
    "CVE-2026-107350": ({"auth_type": "scram-sha-256"}, {"auth_type": "cert"}),
    "CVE-2026-107348": ({"max_packet_size": "2147483649"}, {"max_packet_size": "2147483647"}),
    "CVE-2026-19888": ({"auth_type": "md5"}, {"auth_type": "cert"}),
    "CVE-2026-6668": ({}, {"max_packet_size": "1073741823"}),
    "CVE-2026-6669": ({}, None),
    "CVE-2026-6664": (
        {"auth_type": "hba", "hba_methods": "scram-sha-256"},
        {"auth_type": "hba", "hba_methods": "cert"},
    ),
    "CVE-2026-6665": ({}, None),
    "CVE-2026-6666": ({}, None),
    "CVE-2026-6667": ({"stats_users": "monitor"}, {"stats_users": ""}),
    "CVE-2025-12819": (
        {"track_extra_parameters": "IntervalStyle, search_path", "auth_user": "pgbouncer_auth"},
        {"track_extra_parameters": "IntervalStyle", "auth_user": "pgbouncer_auth"},
    ),
    "CVE-2025-2291": ({"auth_user": "pgbouncer_auth"}, {}),
    "CVE-2026-92867": ({"use_watchdog": "on"}, {"use_watchdog": "off"}),
    "CVE-2026-92868": (
        {"enable_pool_hba": "on", "hba_methods": "scram-sha-256,cert"},
        {"enable_pool_hba": "on", "hba_methods": "scram-sha-256"},
    ),
    "CVE-2026-92869": ({"use_watchdog": "'on'"}, {}),
    "CVE-2026-92870": ({"use_watchdog": "on"}, {}),
    "CVE-2026-92871": ({"use_watchdog": "on"}, {}),
    "CVE-2026-92872": (
        {"use_watchdog": "on"},
        {"use_watchdog": "on", "wd_lifecheck_method": "query"},
    ),
    "CVE-2026-92873": ({"use_watchdog": "on"}, {}),
    "CVE-2025-46801": (
        {"enable_pool_hba": "on", "hba_methods": "password"},
        {"enable_pool_hba": "on", "hba_methods": "scram-sha-256"},
    ),
    "CVE-2024-45624": ({"memory_cache_enabled": "on"}, {"memory_cache_enabled": "off"}),
}


def _state(adv, version, settings, **kwargs):
    found = [r for r in advisories.assess(adv.product, version, settings, **kwargs)
             if r.advisory.id == adv.id]  # fmt: skip
    return found[0].state if found else None


def test_every_advisory_has_a_case():
    assert sorted(CASES) == sorted(adv.id for adv in ADVISORIES)


@pytest.mark.parametrize("adv", ADVISORIES, ids=lambda adv: adv.id)
def test_the_last_affected_release_with_exposing_settings_is_exposed(adv):
    exposing, _ = CASES[adv.id]
    for first, fixed in adv.affected:
        assert _state(adv, first, exposing) == EXPOSED
        major, minor, patch = (int(p) for p in fixed.split("."))
        last = f"{major}.{minor}.{patch - 1}" if patch else f"{major}.{minor - 1}.99"
        assert _state(adv, last, exposing) == EXPOSED, last


@pytest.mark.parametrize("adv", ADVISORIES, ids=lambda adv: adv.id)
def test_the_fixed_release_is_not_listed(adv):
    exposing, _ = CASES[adv.id]
    for _, fixed in adv.affected:
        assert _state(adv, fixed, exposing) is None


@pytest.mark.parametrize("adv", ADVISORIES, ids=lambda adv: adv.id)
def test_mitigating_settings_make_it_not_exploitable(adv):
    _, safe = CASES[adv.id]
    first = adv.affected[0][0]
    if safe is None:
        assert adv.mitigation == "", "an advisory with a mitigation needs a safe case"
        return
    assert adv.mitigation
    assert _state(adv, first, safe) == MITIGATED


@pytest.mark.parametrize("adv", ADVISORIES, ids=lambda adv: adv.id)
def test_an_accepted_advisory_is_reported_as_accepted(adv):
    exposing, _ = CASES[adv.id]
    first = adv.affected[0][0]
    assert _state(adv, first, exposing, accepted=[adv.id.lower()]) == ACCEPTED


@pytest.mark.parametrize(
    ("adv", "package"),
    [(adv, package) for adv in ADVISORIES for package in adv.debian_fixed],
    ids=lambda value: getattr(value, "id", value),
)
def test_a_debian_package_carrying_the_fix_counts_as_fixed(adv, package):
    exposing, _ = CASES[adv.id]
    assert _state(adv, package, exposing) == FIXED
    upstream = package.rsplit("-", 1)[0]
    older = f"{upstream}-1"
    assert _state(adv, older, exposing) == EXPOSED, older


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("1.24.1-1+deb13u2", "1.24.1-1+deb13u1", 1),
        ("1.24.1-1+deb13u2", "1.24.1-1+deb13u2", 0),
        ("1.24.1-1", "1.24.1-1+deb13u2", -1),
        ("1.24.1-1.pgdg130+1", "1.24.1-1", 1),
        ("1.26.1~rc1-1", "1.26.1-1", -1),
        ("1:1.0-1", "2.0-1", 1),
        ("4.3.5-1+deb12u1", "4.3.5-1", 1),
    ],
)
def test_debian_versions_compare_as_dpkg_does(left, right, expected):
    assert advisories.debian_compare(left, right) == expected


def test_debian_13s_pgbouncer_with_the_roles_defaults_needs_three_acceptances():
    hardened = pgbouncer.hardened_settings("1.24.1")
    settings = {
        "auth_type": "scram-sha-256",
        "track_extra_parameters": ", ".join(hardened["track_extra_parameters"]),
        "max_packet_size": str(hardened["max_packet_size"]),
        "stats_users": "monitor",
    }
    with pytest.raises(PoolkitError) as exc:
        advisories.check("pgbouncer", "1.24.1", settings, [], "1.24.1-1+deb13u2")
    message = str(exc.value)
    exposed = [line.split(":")[0] for line in message.splitlines() if line.startswith("CVE")]
    assert exposed == ["CVE-2026-107350", "CVE-2026-19888", "CVE-2026-6669"]
    assert "Fixed in 1.26.1" in message and "pgbouncer_package_source" in message
    assert "{suite: forky}" in message
    assert "pgbouncer_accepted_advisories: [CVE-2026-107350, CVE-2026-19888, CVE-2026-6669]" in (
        message
    )
    lines = advisories.check("pgbouncer", "1.24.1", settings, exposed, "1.24.1-1+deb13u2")
    states = {line.split()[0]: line.split()[1] for line in lines}
    assert states["CVE-2026-107349"] == "[mitigated]"
    assert states["CVE-2026-6668"] == "[mitigated]"
    assert states["CVE-2026-6664"] == "[fixed]"
    assert states["CVE-2026-107350"] == "[accepted]"


def test_the_old_ignore_list_on_1_24_is_refused_naming_the_cve_and_the_setting():
    settings = {"auth_type": "cert", "ignore_startup_parameters": "extra_float_digits"}
    with pytest.raises(PoolkitError, match="CVE-2026-107349") as exc:
        advisories.check("pgbouncer", "1.24.1", settings, ["CVE-2026-6669"], "1.24.1-1+deb13u2")
    assert "an empty ignore_startup_parameters" in str(exc.value)


def test_pgbouncer_1_26_1_with_the_defaults_has_no_advisory():
    hardened = pgbouncer.hardened_settings("1.26.1")
    settings = {"auth_type": "scram-sha-256", "ignore_startup_parameters": "extra_float_digits"}
    assert hardened["max_packet_size"] is None
    assert advisories.check("pgbouncer", "1.26.1", settings, [], "1.26.1-1") == []


def test_an_unknown_accepted_id_is_refused():
    with pytest.raises(PoolkitError, match="'CVE-2026-1' is not a PgBouncer advisory"):
        advisories.check("pgbouncer", "1.26.1", {}, ["CVE-2026-1"])
    with pytest.raises(PoolkitError, match="not a Pgpool-II advisory"):
        advisories.check("pgpool", "4.6.1", {}, ["CVE-2026-107350"], variable="pgpool_x")


def test_accepted_must_be_a_list():
    with pytest.raises(PoolkitError, match="pgbouncer_accepted_advisories: expected a list"):
        advisories.check("pgbouncer", "1.26.1", {}, "CVE-2026-6669")


def test_pgpool_of_both_debian_releases_with_the_roles_defaults_passes():
    settings = {"enable_pool_hba": "on", "hba_methods": "scram-sha-256", "use_watchdog": "off"}
    for package in ("4.6.1-2", "4.3.5-1+deb12u1"):
        lines = advisories.check("pgpool", package, settings, [], package)
        assert lines and all("[exposed]" not in line for line in lines)


@pytest.mark.parametrize(
    ("version", "ignore", "track", "packet"),
    [
        ("1.18.0", ["extra_float_digits"], None, 1073741823),
        ("1.20.0", None, ["IntervalStyle", "extra_float_digits"], 1073741823),
        ("1.24.1", None, ["IntervalStyle", "extra_float_digits"], 1073741823),
        ("1.26.0", None, ["IntervalStyle", "extra_float_digits"], None),
        ("1.26.1", ["extra_float_digits"], None, None),
    ],
)
def test_hardened_defaults_by_release(version, ignore, track, packet):
    assert pgbouncer.hardened_settings(version) == {
        "ignore_startup_parameters": ignore,
        "track_extra_parameters": track,
        "max_packet_size": packet,
    }


def test_hardened_keeps_what_the_user_set():
    assert pgbouncer.hardened_settings("1.24.1", ["options"], ["search_path"], 4096) == {
        "ignore_startup_parameters": ["options"],
        "track_extra_parameters": ["search_path"],
        "max_packet_size": 4096,
    }
    tracked = pgbouncer.hardened_settings("1.24.1", None, ["search_path"])
    assert tracked["track_extra_parameters"] == ["search_path", "extra_float_digits"]


def _report(product, version, settings, accepted=()):
    report = Report(checked_at=datetime(2026, 11, 30, tzinfo=UTC))
    advisory_report(report, "pgbouncer 127.0.0.1:6432", product, version, settings, accepted)
    return report


def test_status_warns_about_an_exposed_advisory_and_names_the_fix():
    report = _report("pgbouncer", "1.24.1", {"ignore_startup_parameters": "extra_float_digits",
                                              "auth_type": "cert"})  # fmt: skip
    subjects = [f.subject for f in report.findings]
    assert "advisory CVE-2026-107349" in subjects
    assert report.exit_code == 1
    finding = report.findings[subjects.index("advisory CVE-2026-107349")]
    assert "Install PgBouncer 1.26.1 or newer" in finding.advice


def test_status_counts_debian_backports_of_the_running_release_as_fixed():
    settings = {"auth_type": "cert", "stats_users": "monitor", "max_packet_size": "1073741823"}
    report = _report("pgbouncer", "1.24.1", settings, ["CVE-2026-6669"])
    assert report.exit_code == 0, report.findings
    (summary,) = report.summaries
    assert "accepted: CVE-2026-6669" in summary
    assert "CVE-2026-6667 (Debian 1.24.1-1+deb13u2)" in summary


def test_status_refuses_an_accepted_id_that_is_no_advisory(capsys):
    from poolkit.cli import main

    code = main(["status", "--pgbouncer", "host=127.0.0.1", "--accept-advisory", "CVE-2026-1"])
    assert code != 0
    assert "--accept-advisory CVE-2026-1: not an advisory poolkit knows" in capsys.readouterr().err
