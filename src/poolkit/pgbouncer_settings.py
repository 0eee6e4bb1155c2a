"""The [pgbouncer] section for one PgBouncer release: each value checked and written as
pgbouncer.ini wants it (`ini_settings`), and the release's safe defaults for the startup
parameters and packet size that known advisories turn on (`hardened_settings`)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from poolkit import PoolkitError
from poolkit.advisories import PGBOUNCER_SAFE_MAX_PACKET
from poolkit.pgbouncer_tables import (
    _BOOLEAN,
    _CHOICES,
    _LISTS,
    _SECONDS,
    INTEGER_SETTINGS,
    PGBOUNCER,
    SETTINGS,
    _supported,
    _unavailable,
    _unknown_setting,
)
from poolkit.settings import as_bool as _as_bool
from poolkit.settings import non_negative as _non_negative
from poolkit.settings import octal_mode, setting_lines
from poolkit.settings import string as _string
from poolkit.values import type_name as _type_name

# ------------------------------------------------------------------------- values


def _text(value: Any, variable: str) -> str:
    _string(value, variable)
    if any(ch in value for ch in "\n\r\0"):
        raise PoolkitError(
            f"{variable}: the value contains a line break or NUL character, which "
            "pgbouncer.ini cannot hold"
        )
    return str(value)


def _seconds(value: Any, variable: str) -> str:
    if isinstance(value, float) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise PoolkitError(f"{variable}: expected seconds >= 0, got {value!r}")
        return format(value, "f").rstrip("0").rstrip(".") or "0"
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        return value.strip()
    if isinstance(value, str):
        raise PoolkitError(f"{variable}: expected seconds (a number >= 0), got {value!r}")
    return str(_non_negative(value, variable))


def _boolean(value: Any, variable: str) -> str:
    """ "1" or "0" from a bool, 1/0, or a templated "True" / "false" / "yes" / "0" ..."""
    return "1" if _as_bool(value, variable) else "0"


def _list(value: Any, variable: str) -> str:
    if isinstance(value, str):
        return _text(value, variable)
    if isinstance(value, (list, tuple)):
        items = [_text(item, f"{variable}[{i}]") for i, item in enumerate(value)]
        for i, item in enumerate(items):
            if not item.strip() or "," in item:
                raise PoolkitError(
                    f"{variable}[{i}]: {item!r} cannot be an element of a comma-separated "
                    "list (empty or contains a comma)"
                )
        return ", ".join(item.strip() for item in items)
    raise PoolkitError(f"{variable}: expected a list of strings, got {_type_name(value)}")


def _choice(key: str, value: Any, variable: str) -> str:
    choices = _CHOICES[key]
    if isinstance(value, str) and value in choices:
        return str(value)
    raise PoolkitError(f"{variable}: {value!r} is not one of {', '.join(choices)}")


def _setting_value(key: str, value: Any, variable: str) -> str:
    """The pgbouncer.ini text of one [pgbouncer] value."""
    if key in _BOOLEAN:
        return _boolean(value, variable)
    if key in INTEGER_SETTINGS:
        return str(_non_negative(value, variable))
    if key in _SECONDS:
        return _seconds(value, variable)
    if key in _LISTS:
        return _list(value, variable)
    if key == "unix_socket_mode":
        return octal_mode(value, variable)
    if key in _CHOICES:
        return _choice(key, value, variable)
    return _text(value, variable)


# ------------------------------------------------------------------------- [pgbouncer]


def ini_settings(
    settings: Mapping[str, Any], version: str, extra: Mapping[str, Any] | None = None
) -> list[list[str]]:
    """The [pgbouncer] section as ``[key, value]`` pairs for PgBouncer `version`.

    `settings` maps the keys the role models to the values of their variables
    (``pgbouncer_<key>``); None means "not set" and leaves PgBouncer's default. `extra`
    is ``pgbouncer_extra_settings``, for keys the role does not model. Modeled keys come
    in `SETTINGS` order, extra keys after them, sorted. Every unknown key, key too new
    for `version`, extra key the role models and malformed value is reported in one
    PoolkitError, one problem per line.
    """
    ver, text = _supported(version)
    return setting_lines(
        PGBOUNCER,
        settings,
        extra,
        order=SETTINGS,
        refusal=lambda key: None if key in SETTINGS else _unknown_setting(str(key), ver, text),
        unavailable=lambda key: _unavailable(key, ver, text),
        render=_setting_value,
    )


#: Releases where a non-empty ignore_startup_parameters lets one unauthenticated packet
#: spin the process (CVE-2026-107349; measured on 1.24.1 with ``options`` listed too).
_OPTIONS_SPIN = ((1, 20, 0), (1, 26, 1))
#: Before 1.26.0 PgBouncer's packet buffer growth overflows near 2^31 (CVE-2026-6668).
_PACKET_OVERFLOW_FIXED = (1, 26, 0)
#: What JDBC drivers send in their StartupMessage and PgBouncer must not refuse.
_JDBC_PARAMETER = "extra_float_digits"
#: track_extra_parameters' default from 1.20 until 1.26 changed what is tracked.
_TRACKED_BY_DEFAULT = "IntervalStyle"


def hardened_settings(
    version: str, ignore: Any = None, track: Any = None, max_packet_size: Any = None
) -> dict[str, Any]:
    """ignore_startup_parameters, track_extra_parameters and max_packet_size for `version`,
    each None ("not set") or the value the user gave or the safe default for the release.

    A null `ignore` is ``[extra_float_digits]`` (JDBC drivers send it) except on 1.20.0 to
    1.26.0, where any non-empty list lets one unauthenticated packet spin the process
    (CVE-2026-107349): there it is empty and extra_float_digits is tracked instead (added to
    a null or given `track`). A null `max_packet_size` is PostgreSQL's own message limit
    below 1.26.0, which keeps CVE-2026-6668's buffer overflow out of reach.
    """
    ver, _ = _supported(version)
    result: dict[str, Any] = {
        "ignore_startup_parameters": ignore,
        "track_extra_parameters": track,
        "max_packet_size": max_packet_size,
    }
    if ignore is None:
        if _OPTIONS_SPIN[0] <= ver < _OPTIONS_SPIN[1]:
            tracked = [_TRACKED_BY_DEFAULT] if track is None else track
            if isinstance(tracked, str):
                tracked = [item.strip() for item in tracked.split(",") if item.strip()]
            if isinstance(tracked, list) and _JDBC_PARAMETER not in tracked:
                tracked = [*tracked, _JDBC_PARAMETER]
            result["ignore_startup_parameters"] = None
            result["track_extra_parameters"] = tracked
        else:
            result["ignore_startup_parameters"] = [_JDBC_PARAMETER]
    if max_packet_size is None and ver < _PACKET_OVERFLOW_FIXED:
        result["max_packet_size"] = PGBOUNCER_SAFE_MAX_PACKET
    return result
