"""Small value helpers shared by the settings modules (pgbouncer, pgpool) and the filters.

Every message names the variable it is about, as all poolkit errors do.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from poolkit import PoolkitError


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean X?)`` for the closest of `choices`, or "" when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    if len(close) == 1:
        return f" (did you mean {close[0]}?)"
    return f" (did you mean {', '.join(close[:-1])} or {close[-1]}?)"


def type_name(value: Any) -> str:
    """The YAML-ish name of a value's type, for messages."""
    return "null" if value is None else type(value).__name__


def as_int(value: Any, variable: str) -> int:
    """A whole number from an int or a numeric string ("20" from a templated default)."""
    if isinstance(value, bool):
        raise PoolkitError(f"{variable}: expected a whole number, got a boolean ({value})")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    if isinstance(value, (str, float)):
        raise PoolkitError(f"{variable}: expected a whole number, got {value!r}")
    raise PoolkitError(f"{variable}: expected a whole number, got {type_name(value)}")


def raise_all(problems: list[str]) -> None:
    """One PoolkitError listing every problem, one per line; nothing when there is none."""
    if problems:
        raise PoolkitError("\n".join(problems))


def exporter_service_problems(role: str, config: Mapping[str, Any]) -> list[str]:
    """The roles run their exporter as a systemd unit: refuse it with <role>_service_manager
    none (files only, for a container stack, which runs its own exporter)."""
    if not config.get("exporter_enabled") or config.get("service_manager", "systemd") == "systemd":
        return []
    return [
        f"{role}_exporter_enabled: true needs {role}_service_manager systemd (the exporter runs "
        "as a systemd unit); a container stack runs its own exporter, as docker-compose.yml's "
        "`monitoring` profile does"
    ]


def plain(value: Any) -> Any:
    """A copy of `value` as plain Python data (str, int, float, bool, None, dict, list).

    For the Ansible filters: ``str`` subclasses such as AnsibleUnsafeText become ``str``;
    other unknown leaves (vaulted values) become their ``str()``, except bytes and sets,
    left for the library to refuse with a message naming the variable.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (bytes, bytearray, set, frozenset)):
        return value
    return str(value)  # e.g. a vaulted value: str() decrypts it


def setting_pairs(new_settings: Any) -> list[tuple[str, str]]:
    """The ``[key, value]`` string pairs a settings filter renders (e.g. the new settings
    that ``restart_keys`` compares with a deployed file), or a PoolkitError naming the bad one."""
    if isinstance(new_settings, (str, Mapping)) or not isinstance(new_settings, Sequence):
        raise PoolkitError(
            f"new settings: expected a list of [key, value] pairs, got {type_name(new_settings)}"
        )
    pairs: list[tuple[str, str]] = []
    for index, pair in enumerate(new_settings):
        if (
            isinstance(pair, (str, Mapping))
            or not isinstance(pair, Sequence)
            or len(pair) != 2
            or not all(isinstance(part, str) for part in pair)
        ):
            raise PoolkitError(f"new settings[{index}]: expected a [key, value] pair, got {pair!r}")
        pairs.append((pair[0], pair[1]))
    return pairs
