"""poolkit.settings: the engine pgbouncer and pgpool share, on a made-up pooler.

The pooler ("Pooler", releases 2.1 to 2.4) keeps the engine's behaviour apart from
either product's tables; one behaviour per test.
"""

from __future__ import annotations

from typing import Any

import pytest

from poolkit import PoolkitError
from poolkit import settings as engine

POOLER = engine.Product(
    name="Pooler",
    prefix="pooler",
    banner="pooler",
    expected="'pooler --version' output",
    oldest=(2, 1),
    newest=(2, 4),
    debian_12="2.1.3",
)
#: key -> first (major, minor) that reads it.
TABLE = {"port": (2, 1), "peers": (2, 3), "mode": (2, 1)}


def lines(settings: Any, extra: Any = None, version: str = "2.2.0") -> list[list[str]]:
    ver, text = POOLER.supported(version)
    return engine.setting_lines(
        POOLER,
        settings,
        extra,
        order=TABLE,
        refusal=lambda key: None if key in TABLE else POOLER.unknown_setting(key, TABLE, ver, text),
        unavailable=lambda key: POOLER.too_new(key, TABLE[key], ver, text),
        render=lambda key, value, variable: str(engine.non_negative(value, variable)),
    )


def message(call, *args: Any) -> str:
    with pytest.raises(PoolkitError) as info:
        call(*args)
    return str(info.value)


@pytest.mark.parametrize(
    "text",
    ["pooler 2.3.1", "Pooler version 2.3.1\nbuilt with ...", "1:2.3.1-1", "2.3.1-1+b2", "2.3.1"],
)
def test_parse_version_reads_banner_epoch_and_revision(text):
    assert POOLER.parse_version(text) == "2.3.1"


def test_parse_version_reads_a_missing_patch_level_as_0():
    assert POOLER.parse_version("2.3") == "2.3.0"


def test_parse_version_names_the_product_and_what_it_reads():
    assert message(POOLER.parse_version, "two") == (
        "Pooler version 'two': expected 'pooler --version' output"
    )


def test_supported_refuses_a_release_older_than_the_tables():
    assert message(POOLER.supported, "2.0.9") == (
        "Pooler 2.0.9 is older than 2.1, the oldest version poolkit knows the settings of "
        "(Debian 12 ships 2.1.3); install Pooler 2.1 or newer"
    )


def test_too_new_is_empty_from_the_first_release_that_reads_the_key():
    assert POOLER.too_new("peers", (2, 3), (2, 3, 0), "2.3.0") == ""


def test_too_new_names_the_release_needed_and_the_hosts():
    assert POOLER.too_new("peers", (2, 3), (2, 2, 5), "2.2.5") == (
        "peers needs Pooler 2.3 or newer, this host has 2.2.5"
    )


def test_unknown_setting_of_a_known_release_suggests_a_close_key():
    assert POOLER.unknown_setting("prot", TABLE, (2, 2, 0), "2.2.0") == (
        "Pooler 2.2.0 has no setting 'prot' (did you mean port?)"
    )


def test_unknown_setting_beyond_the_tables_says_what_poolkit_knows():
    assert POOLER.unknown_setting("new", TABLE, (2, 5, 0), "2.5.0") == (
        "'new' is not a Pooler setting poolkit knows (it knows those of 2.1 to 2.4)"
    )


def test_preflight_notes_a_bad_version_under_the_given_variable():
    problems, ver, text = POOLER.preflight({"version": "1.0"}, "pooler_version")
    assert (problems, ver, text) == (
        [
            "pooler_version: Pooler 1.0.0 is older than 2.1, the oldest version poolkit "
            "knows the settings of (Debian 12 ships 2.1.3); install Pooler 2.1 or newer"
        ],
        None,
        "",
    )


def test_preflight_refuses_a_config_that_is_not_a_mapping():
    assert message(POOLER.preflight, [], "version") == "config: expected a mapping, got list"


def test_setting_lines_write_modeled_keys_in_table_order():
    assert lines({"mode": 1, "port": 2}) == [["port", "2"], ["mode", "1"]]


def test_setting_lines_write_extra_keys_after_the_modeled_ones_sorted():
    assert lines({"peers": None}, {"port": 2, "mode": 1}) == [["mode", "1"], ["port", "2"]]


def test_setting_lines_leave_out_a_null_value():
    assert lines({"port": None, "mode": 0}) == [["mode", "0"]]


def test_setting_lines_report_every_problem_in_one_error():
    assert message(lines, {"peers": 3, "prot": 1}, {"prot": 5}).splitlines() == [
        "pooler_peers: peers needs Pooler 2.3 or newer, this host has 2.2.0; set it to null or "
        "install a newer Pooler",
        "pooler_prot: Pooler 2.2.0 has no setting 'prot' (did you mean port?)",
        "pooler_extra_settings.prot: set pooler_prot instead",
    ]


def test_setting_lines_tell_an_extra_key_too_new_to_be_removed():
    assert message(lines, {}, {"peers": 3}) == (
        "pooler_extra_settings.peers: peers needs Pooler 2.3 or newer, this host has 2.2.0; "
        "remove it or install a newer Pooler"
    )


def test_setting_lines_name_the_products_extra_settings_variable():
    assert message(lines, {}, ["port"]) == (
        "pooler_extra_settings: expected a mapping of setting name to value, got list"
    )


def restarts(old_text: Any, new: Any) -> list[str]:
    return engine.restart_keys(
        old_text,
        new,
        file="pooler.conf",
        parse=lambda text: dict(line.split("=", 1) for line in text.split()),
        pair=lambda key, value: (key.strip(), value),
        comparable=lambda key, value: value,
        restarts=lambda key, old, new: key != "mode",
    )


def test_restart_keys_are_the_changed_keys_that_restart():
    assert restarts("port=1 mode=a peers=x", [["port", "2"], ["mode", "b"]]) == ["peers", "port"]


def test_restart_keys_are_none_before_the_first_deployment():
    assert restarts("", [["port", "2"]]) == []


def test_restart_keys_name_the_file_of_a_bad_old_text():
    assert message(restarts, 5, []) == "old pooler.conf text: expected a string, got int"


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (0, False), (" Yes ", True), ("off", False)]
)
def test_as_bool_reads_bools_ones_zeros_and_words(value, expected):
    assert engine.as_bool(value, "v") is expected


def test_as_bool_refuses_anything_else():
    assert message(engine.as_bool, 2, "pooler_x") == "pooler_x: expected true or false, got 2"


def test_string_asks_to_quote_a_yaml_number():
    assert message(engine.string, 5, "pooler_x") == (
        "pooler_x: expected a string, got int; quote it in YAML"
    )


@pytest.mark.parametrize(("value", "expected"), [(0o770, "0770"), (" 770 ", "770")])
def test_octal_mode_writes_an_int_in_octal_and_keeps_digits_as_given(value, expected):
    assert engine.octal_mode(value, "v") == expected


def test_checked_int_notes_the_problem_and_gives_the_default():
    problems: list[str] = []
    assert engine.checked_int(-1, "pooler_n", problems, 7) == 7
    assert problems == ["pooler_n: expected a whole number >= 0, got -1"]


def test_checked_bool_gives_the_default_for_null():
    assert engine.checked_bool(None, "pooler_b", [], True) is True


def test_user_names_read_mappings_and_plain_names():
    assert engine.user_names([{"name": "a"}, "b"], "pooler_users", "{name}", []) == {"a", "b"}


def test_user_names_are_none_for_a_list_that_is_not_one():
    problems: list[str] = []
    assert engine.user_names("a", "pooler_users", "{name}", problems) is None
    assert problems == ["pooler_users: expected a list of {name} mappings, got str"]


def tls(config: dict[str, Any], on: bool) -> list[str]:
    problems: list[str] = []
    engine.tls_file_problems(
        config, "pooler", on, ("cert",), ("ca",), problems, missing="TLS on", unused="TLS off"
    )
    return problems


def test_tls_file_problems_need_the_files_with_tls_on():
    assert tls({"ca": "x"}, True) == ["pooler_cert: not set, but TLS on"]


def test_tls_file_problems_refuse_every_file_with_tls_off():
    assert tls({"cert": "c", "ca": "x"}, False) == [
        "pooler_cert: set, but TLS off",
        "pooler_ca: set, but TLS off",
    ]


def test_precedence_is_the_variable_then_the_topology_then_the_default():
    values, origins = engine.precedence(
        {"a": 7, "b": None, "c": None}, {"b": 5, "a": 1}, {"a": 0, "b": 0, "c": 20}, "abc"
    )
    assert values == {"a": 7, "b": 5, "c": 20}
    assert origins == {"a": "variable", "b": "topology", "c": "default"}
