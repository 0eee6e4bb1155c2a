"""pgpool.conf's settings for one Pgpool-II release: each value checked, quoted and written
as pgpool.conf wants it (`conf_settings`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from poolkit import PoolkitError
from poolkit.pgpool_tables import (
    _BOOLEAN,
    _MODES,
    _PORTS,
    CHOICES,
    INTEGER_SETTINGS,
    LISTS,
    PGPOOL,
    PORT_RANGE,
    SETTINGS,
    Version,
    _refusal,
    _supported,
    _unavailable,
    written_name,
)
from poolkit.settings import as_bool as _as_bool
from poolkit.settings import non_negative as _non_negative
from poolkit.settings import octal_mode, setting_lines
from poolkit.settings import short as _short
from poolkit.settings import string as _string
from poolkit.values import as_int
from poolkit.values import type_name as _type_name

# ------------------------------------------------------------------------- values


def _port(value: Any, variable: str) -> int:
    number = as_int(value, variable)
    low, high = PORT_RANGE
    if not low <= number <= high:
        raise PoolkitError(
            f"{variable}: {number} is outside {low}-{high}, the range Pgpool-II accepts for "
            "ports (it refuses to start otherwise)"
        )
    return number


def conf_string(value: Any, variable: str) -> str:
    """A pgpool.conf string value, single-quoted.

    Measured on 4.3.5 and 4.6.1: the text between the quotes is taken literally, a
    backslash included ('a\\\\b' is read as a\\\\b, a trailing backslash is fine), and a
    single quote cannot be written at all: '' (doubled) is a syntax error that stops
    Pgpool-II and \\' keeps the backslash. A line break cannot be written either.
    """
    _string(value, variable)
    if "'" in value:
        raise PoolkitError(
            f"{variable}: contains a single quote, which pgpool.conf cannot hold (Pgpool-II "
            "reads neither '' nor \\' as a quote); choose a value without one"
        )
    bad = next((ch for ch in value if ch in "\n\r\0"), None)
    if bad is not None:
        raise PoolkitError(
            f"{variable}: contains {bad!r} (a line break or NUL), which pgpool.conf cannot hold"
        )
    return "'" + value + "'"


def _boolean(value: Any, variable: str) -> str:
    """``on`` or ``off`` from a bool, 1/0, or a templated "True" / "no" / "off" ...

    Anything else is refused: Pgpool-II would ignore an invalid boolean ('maybe')
    silently and keep the default (measured)."""
    return "on" if _as_bool(value, variable) else "off"


def _mode(value: Any, variable: str) -> str:
    """The octal mode with exactly one leading 0 (``770`` and ``00770`` give ``0770``)."""
    return "0" + (octal_mode(value, variable).lstrip("0") or "0")


def _choice(key: str, value: Any, variable: str) -> str:
    choices = CHOICES[key]
    if isinstance(value, bool) and "on" in choices:
        value = "on" if value else "off"  # check_temp_table reads on/off (YAML booleans)
    if isinstance(value, str):
        for choice in choices:
            if value.strip().lower() == choice.lower():
                return "'" + choice + "'"
    raise PoolkitError(f"{variable}: {value!r} is not one of {', '.join(choices)}")


def _list(key: str, value: Any, variable: str, ver: tuple[int, int, int], text: str) -> str:
    separator, multi_since = LISTS[key]
    if isinstance(value, str):
        items = [value]
        several = separator in value
        rendered = conf_string(value, variable)
    elif isinstance(value, (list, tuple)):
        items = []
        for i, item in enumerate(value):
            conf_string(item, f"{variable}[{i}]")
            if not item.strip() or separator in item:
                raise PoolkitError(
                    f"{variable}[{i}]: {item!r} cannot be an item of a {separator!r}-separated "
                    "list (empty or contains the separator)"
                )
            items.append(item.strip())
        several = len(items) > 1
        rendered = "'" + separator.join(items) + "'"
    else:
        raise PoolkitError(
            f"{variable}: expected a string or a list of strings, got {_type_name(value)}"
        )
    if several and ver[:2] < multi_since:
        what = "address" if "addresses" in key else "directory" if "dir" in key else "value"
        raise PoolkitError(
            f"{variable}: Pgpool-II {text} reads a single {what} here (lists need "
            f"{_short(multi_since)} or newer); give one"
        )
    return rendered


#: (key, choice) -> the last (major, minor) that accepts it. 4.7.0 retired Slony mode:
#: 4.7.3 refuses 'slony' ("FATAL: invalid value for parameter "backend_clustering_mode"",
#: measured).
RETIRED_CHOICES: dict[tuple[str, str], Version] = {("backend_clustering_mode", "slony"): (4, 6)}


def _setting_value(
    key: str, value: Any, variable: str, ver: tuple[int, int, int], text: str
) -> str:
    """The pgpool.conf text of one value (quoted where Pgpool-II needs quotes)."""
    last = RETIRED_CHOICES.get((key, str(value)))
    if last is not None and ver[:2] > last:
        raise PoolkitError(
            f"{variable}: '{value}' was retired after Pgpool-II {_short(last)}, this host has "
            f"{text}; choose one of "
            + ", ".join(c for c in CHOICES[key] if (key, c) not in RETIRED_CHOICES)
        )
    if key in _BOOLEAN:
        return _boolean(value, variable)
    if key in _PORTS:
        return str(_port(value, variable))
    if key in INTEGER_SETTINGS:
        return str(_non_negative(value, variable))
    if key in _MODES:
        return _mode(value, variable)
    if key in CHOICES:
        return _choice(key, value, variable)
    if key in LISTS:
        return _list(key, value, variable, ver, text)
    return conf_string(value, variable)


# ------------------------------------------------------------------------- pgpool.conf


def conf_settings(
    settings: Mapping[str, Any], version: str, extra: Mapping[str, Any] | None = None
) -> list[list[str]]:
    """pgpool.conf ``[key, value]`` pairs for Pgpool-II `version`.

    `settings` maps the keys the role models to the values of their variables
    (``pgpool_<key>``); None means "not set" and leaves Pgpool-II's default. `extra` is
    ``pgpool_extra_settings``, for keys the role does not model. Modeled keys come in
    `SETTINGS` order, extra keys after them, sorted. Values are ready to write after
    ``key = ``: strings, enums and lists single-quoted, booleans ``on``/``off``, whole
    numbers bare, file modes in octal.

    The socket directory is always ``unix_socket_directories`` here (and the virtual IP
    always ``delegate_ip``): the pair names ``socket_dir`` (``delegate_IP``) for 4.3,
    which does not read the new names (`RENAMED`).

    Refused, all in one PoolkitError: keys Pgpool-II does not read (it would silently
    ignore them), keys of another version, the old names of `RENAMED`, `REFUSED` keys,
    backend / per-backend / watchdog node keys, extra keys the role models, malformed
    values (including a single quote or a line break, which pgpool.conf cannot hold).
    """
    ver, text = _supported(version)
    return setting_lines(
        PGPOOL,
        settings,
        extra,
        order=SETTINGS,
        refusal=lambda key: _refusal(str(key), ver, text),
        unavailable=lambda key: _unavailable(key, ver, text),
        render=lambda key, value, variable: _setting_value(key, value, variable, ver, text),
        written=lambda key: written_name(key, version),
    )
