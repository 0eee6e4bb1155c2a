"""The backend_*N lines of pgpool.conf: each backend checked and numbered
(`backends_section`)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from poolkit import PoolkitError
from poolkit.pgpool_settings import _port, conf_string
from poolkit.pgpool_tables import (
    BACKEND_DEFAULTS,
    BACKEND_FLAGS,
    BACKEND_KEYS,
    MAX_BACKENDS,
    MAX_WEIGHT,
    PGPOOL,
    _supported,
)
from poolkit.values import did_you_mean as _did_you_mean
from poolkit.values import raise_all as _raise
from poolkit.values import type_name as _type_name

# ------------------------------------------------------------------------- backends


@dataclass
class _Backend:
    index: int
    label: str
    values: dict[str, Any] = field(default_factory=dict)


def _weight(value: Any, variable: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PoolkitError(f"{variable}: expected a number >= 0, got {_type_name(value)}")
    number: int | float
    if isinstance(value, str):
        try:
            number = float(value) if re.search(r"[.eE]", value) else int(value)
        except ValueError:
            raise PoolkitError(f"{variable}: expected a number >= 0, got {value!r}") from None
    else:
        number = value
    if not math.isfinite(number) or not 0 <= number <= MAX_WEIGHT:
        raise PoolkitError(
            f"{variable}: {value!r} is outside 0-{MAX_WEIGHT}, the range Pgpool-II accepts"
        )
    return number


def _flags(value: Any, variable: str) -> str:
    if isinstance(value, str):
        parts = [part.strip() for part in value.split("|")]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        parts = [str(part).strip() for part in value]
    else:
        raise PoolkitError(
            f"{variable}: expected a flag or a list of flags ({', '.join(BACKEND_FLAGS)}), "
            f"got {_type_name(value)}"
        )
    flags: list[str] = []
    for part in parts:
        flag = part.upper()
        if flag not in BACKEND_FLAGS:
            raise PoolkitError(f"{variable}: {part!r} is not one of {', '.join(BACKEND_FLAGS)}")
        if flag not in flags:
            flags.append(flag)
    if not flags:
        raise PoolkitError(f"{variable}: empty; remove the key to keep ALLOW_TO_FAILOVER")
    if "ALLOW_TO_FAILOVER" in flags and "DISALLOW_TO_FAILOVER" in flags:
        raise PoolkitError(
            f"{variable}: ALLOW_TO_FAILOVER and DISALLOW_TO_FAILOVER exclude each other "
            "(Pgpool-II refuses to start)"
        )
    return "|".join(flags)


def _backends(
    backends: Any, ver: tuple[int, int, int] | None, text: str, problems: list[str]
) -> list[_Backend]:
    """Parsed ``pgpool_backends`` entries; every problem appended to `problems`."""
    variable = "pgpool_backends"
    if isinstance(backends, (str, Mapping)) or not isinstance(backends, Sequence):
        problems.append(
            f"{variable}: expected a list of mappings with a hostname, got {_type_name(backends)}"
        )
        return []
    if not backends:
        problems.append(
            f"{variable}: empty; Pgpool-II needs at least one backend (a mapping with the "
            "PostgreSQL server's hostname)"
        )
        return []
    if len(backends) > MAX_BACKENDS:
        problems.append(
            f"{variable}: {len(backends)} backends; Pgpool-II takes at most {MAX_BACKENDS}"
        )
    parsed: list[_Backend] = []
    seen: dict[tuple[str, int], int] = {}
    for index, item in enumerate(backends):
        where = f"{variable}[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: expected a mapping with a hostname, got {_type_name(item)}")
            continue
        backend = _Backend(index, where)
        for key, value in item.items():
            key_variable = f"{where}.{key}"
            if key not in BACKEND_KEYS:
                problems.append(
                    f"{key_variable}: a backend has no setting '{key}'"
                    + _did_you_mean(str(key), BACKEND_KEYS)
                    + f"; known: {', '.join(BACKEND_KEYS)}"
                )
                continue
            if value is None:
                continue
            if ver is not None and (
                complaint := PGPOOL.too_new(f"backend_{key}", BACKEND_KEYS[key], ver, text)
            ):
                problems.append(f"{key_variable}: {complaint}")
                continue
            try:
                if key == "port":
                    backend.values[key] = _port(value, key_variable)
                elif key == "weight":
                    backend.values[key] = _weight(value, key_variable)
                elif key == "flag":
                    backend.values[key] = _flags(value, key_variable)
                else:
                    conf_string(value, key_variable)
                    backend.values[key] = value
            except PoolkitError as exc:
                problems.append(str(exc))
        if "hostname" not in backend.values:
            if item.get("hostname") in (None, ""):
                problems.append(
                    f"{where}: hostname is missing; set it to the PostgreSQL server's address"
                )
            continue  # else the hostname's own problem is reported already
        hostname = backend.values["hostname"]
        if not hostname.strip():
            problems.append(f"{where}.hostname: blank; set it to the PostgreSQL server's address")
            continue
        for key, default in BACKEND_DEFAULTS.items():
            backend.values.setdefault(key, default)
        address = (str(hostname), int(backend.values["port"]))
        if address in seen:
            problems.append(
                f"{where}: {address[0]}:{address[1]} is already {variable}[{seen[address]}]; "
                "list each server once"
            )
        else:
            seen[address] = index
        parsed.append(backend)
    primaries = [b.label for b in parsed if "ALWAYS_PRIMARY" in str(b.values.get("flag", ""))]
    if len(primaries) > 1:
        problems.append(
            f"{', '.join(primaries)}: ALWAYS_PRIMARY on more than one backend; at most one "
            "server can be the primary"
        )
    if parsed and len(parsed) == len(backends) and all(b.values["weight"] == 0 for b in parsed):
        problems.append(
            f"{variable}: every weight is 0; Pgpool-II divides each weight by their sum "
            "(measured: SHOW POOL NODES gives lb_weight -nan), give at least one backend a "
            "weight > 0"
        )
    return parsed


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return format(value, "f").rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def backends_section(backends: Sequence[Mapping[str, Any]], version: str) -> list[list[str]]:
    """The backend_*N ``[key, value]`` pairs of pgpool.conf, N = the entry's index.

    Each ``pgpool_backends`` entry has a ``hostname`` and any of ``port`` (default 5432,
    range 1024-65535), ``weight`` (default 1, a number from 0 to 100000000), ``flag``
    (``ALLOW_TO_FAILOVER``, ``DISALLOW_TO_FAILOVER``, ``ALWAYS_PRIMARY``, or a list of
    them, written joined with '|'), ``data_directory`` and ``application_name``. Per
    backend the keys come in `BACKEND_KEYS` order. Problems name ``pgpool_backends[i]``.
    """
    ver, text = _supported(version)
    problems: list[str] = []
    parsed = _backends(backends, ver, text, problems)
    _raise(problems)
    pairs: list[list[str]] = []
    for backend in parsed:
        n = backend.index
        for key in BACKEND_KEYS:
            if key not in backend.values:
                continue
            value = backend.values[key]
            numeric = key in ("port", "weight")
            rendered = _number_text(value) if numeric else "'" + str(value) + "'"
            pairs.append([f"backend_{key}{n}", rendered])
    return pairs
