"""The settings engine behind `poolkit.pgbouncer` and `poolkit.pgpool`.

A pooler's module holds its data: the settings its releases read (from which version
on), the kinds of their values, which changes need a restart, its file format and its
messages. This module holds what works the same for both, parameterised by that data:
reading ``--version`` output and refusing a release older than the tables (`Product`),
version gates, value coercion, the ``[key, value]`` pairs of the modeled plus the
extra settings (`setting_lines`), the restart decision between a deployed file and new
pairs (`restart_keys`) and the preflight helpers (`checked_int`, `user_names`,
`tls_file_problems`).

Messages name the product and the Ansible variable (``<prefix>_<key>``) exactly as the
product's module words them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from poolkit import PoolkitError
from poolkit.values import as_int, did_you_mean, raise_all, setting_pairs, type_name

#: (major, minor): the granularity of the settings tables.
Version = tuple[int, int]
#: (major, minor, patch) of the host's release.
Release = tuple[int, int, int]

#: Spellings of a boolean that templated values and YAML give.
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


def short(version: Sequence[int]) -> str:
    """``"1.24"`` from ``(1, 24)``, ``"4.6.1"`` from ``(4, 6, 1)``."""
    return ".".join(str(part) for part in version)


class Removed(str):
    """A complaint that this release no longer reads a setting: no newer release will, so
    the advice is to remove it, not to upgrade."""


@dataclass(frozen=True)
class Product:
    """A pooler as the engine needs it: its name in messages and the releases it knows."""

    #: As messages write it: "PgBouncer", "Pgpool-II".
    name: str
    #: Of the role's variables: "pgbouncer" (pgbouncer_<key>, pgbouncer_extra_settings).
    prefix: str
    #: The program's name that may start its ``--version`` output ("pgpool-II").
    banner: str
    #: What `parse_version` reads, for its message ("'pgbouncer --version' output or ...").
    expected: str
    #: The oldest and newest (major, minor) measured: older is refused, newer unknown.
    oldest: Version
    newest: Version
    #: The release Debian 12 ships, named when refusing an older one.
    debian_12: str

    def parse_version(self, text: Any) -> str:
        """``"1.24.1"`` from ``--version`` output or a Debian package version (an epoch,
        a Debian revision and a missing patch level, read as 0, are allowed)."""
        if isinstance(text, str):
            first = text.strip().splitlines()[0].strip() if text.strip() else ""
            pattern = (
                rf"(?:{re.escape(self.banner)}\s+(?:version\s+)?)?"
                r"(?:\d+:)?(\d+)\.(\d+)(?:\.(\d+))?(?=$|[-+~\s])"
            )
            match = re.match(pattern, first, re.IGNORECASE)
            if match:
                major, minor, patch = match.groups()
                return f"{int(major)}.{int(minor)}.{int(patch or 0)}"
        raise PoolkitError(f"{self.name} version {text!r}: expected {self.expected}")

    def supported(self, version: Any) -> tuple[Release, str]:
        """The version as a tuple and as text; PoolkitError for a version older than the
        tables."""
        text = self.parse_version(version)
        major, minor, patch = (int(part) for part in text.split("."))
        if (major, minor) < self.oldest:
            raise PoolkitError(
                f"{self.name} {text} is older than {short(self.oldest)}, the oldest version "
                f"poolkit knows the settings of (Debian 12 ships {self.debian_12}); install "
                f"{self.name} {short(self.oldest)} or newer"
            )
        return (major, minor, patch), text

    def too_new(self, what: str, minimum: Version, ver: Release, text: str) -> str:
        """'' when `ver` reads `what` (first read by `minimum`), else the complaint
        (without the variable name)."""
        if ver[:2] >= minimum:
            return ""
        return f"{what} needs {self.name} {short(minimum)} or newer, this host has {text}"

    def removed(self, what: str, last: Version, ver: Release, text: str) -> str:
        """'' when `ver` still reads `what` (last read by `last`), else the complaint."""
        if ver[:2] <= last:
            return ""
        return Removed(f"{what} was removed after {self.name} {short(last)}, this host has {text}")

    def unknown_setting(self, key: str, known: Iterable[str], ver: Release, text: str) -> str:
        """Why `key` is refused when it is none of the `known` settings: this release has
        no such setting, or (a release newer than the tables) poolkit does not know it."""
        hint = did_you_mean(key, known)
        if ver[:2] > self.newest:
            return (
                f"'{key}' is not a {self.name} setting poolkit knows (it knows those of "
                f"{short(self.oldest)} to {short(self.newest)}){hint}"
            )
        return f"{self.name} {text} has no setting '{key}'{hint}"

    def preflight(
        self, config: Any, version_variable: str
    ) -> tuple[list[str], Release | None, str]:
        """The start of a ``check(config)``: the problems list, holding the version's
        problem (named `version_variable`) if any, and the version (None and "" then)."""
        if not isinstance(config, Mapping):
            raise PoolkitError(f"config: expected a mapping, got {type_name(config)}")
        problems: list[str] = []
        try:
            ver, text = self.supported(config.get("version"))
        except PoolkitError as exc:
            problems.append(f"{version_variable}: {exc}")
            return problems, None, ""
        return problems, ver, text


# ------------------------------------------------------------------------- settings


def setting_lines(
    product: Product,
    settings: Mapping[str, Any],
    extra: Mapping[str, Any] | None,
    *,
    order: Iterable[str],
    refusal: Callable[[Any], str | None],
    unavailable: Callable[[str], str],
    render: Callable[[str, Any, str], str],
    written: Callable[[str], str] = lambda key: key,
) -> list[list[str]]:
    """``[name, value]`` pairs of the modeled `settings` (``<prefix>_<key>``, in `order`)
    and then of `extra` (``<prefix>_extra_settings``, sorted), with every problem in one
    PoolkitError.

    Per key: `refusal` says why it cannot be set on any release (None when it can), a
    None value is left out ("not set"), `unavailable` says why this release does not
    read it ('' when it does; a `Removed` complaint is not cured by a newer release),
    `render` turns the value into the file's text (raising a PoolkitError naming the
    variable) and `written` gives the name to write.
    """
    if not isinstance(settings, Mapping):
        raise PoolkitError(
            f"settings: expected a mapping of setting name to value, got {type_name(settings)}"
        )
    if extra is None:
        extra = {}
    if not isinstance(extra, Mapping):
        raise PoolkitError(
            f"{product.prefix}_extra_settings: expected a mapping of setting name to value, "
            f"got {type_name(extra)}"
        )
    problems: list[str] = []

    def one(key: Any, value: Any, variable: str, fix: str) -> str | None:
        why = refusal(key)
        if why is not None:
            problems.append(f"{variable}: {why}")
            return None
        if value is None:
            return None
        complaint = unavailable(key)
        if complaint:
            advice = fix if isinstance(complaint, Removed) else f"{fix} or install a newer"
            advice += "" if isinstance(complaint, Removed) else f" {product.name}"
            problems.append(f"{variable}: {complaint}; {advice}")
            return None
        try:
            return render(key, value, variable)
        except PoolkitError as exc:
            problems.append(str(exc))
            return None

    modeled: dict[str, str] = {}
    for key, value in settings.items():
        rendered = one(key, value, f"{product.prefix}_{key}", "set it to null")
        if rendered is not None:
            modeled[key] = rendered
    extras: dict[str, str] = {}
    for key in sorted(extra, key=str):
        variable = f"{product.prefix}_extra_settings.{key}"
        if key in settings:
            problems.append(f"{variable}: set {product.prefix}_{key} instead")
            continue
        rendered = one(key, extra[key], variable, "remove it")
        if rendered is not None:
            extras[key] = rendered
    raise_all(problems)
    pairs = [[written(key), modeled[key]] for key in order if key in modeled]
    return pairs + [[written(key), value] for key, value in extras.items()]


# ------------------------------------------------------------------------- restarts


def restart_keys(
    old_text: Any,
    new_settings: Any,
    *,
    file: str,
    parse: Callable[[str], Mapping[str, str]],
    pair: Callable[[str, str], tuple[str, str]],
    comparable: Callable[[str, str | None], str | None],
    restarts: Callable[[str, Mapping[str, str], Mapping[str, str]], bool],
) -> list[str]:
    """The keys (sorted) whose value differs between the deployed `file`'s text and the
    new ``[key, value]`` pairs and whose change `restarts` the process.

    `parse` reads the deployed text, `pair` normalises a new pair's key and value as
    `parse` does, `comparable` maps a value (None: the key is absent) to what compares
    equal for equal settings. Empty `old_text` (nothing deployed yet) gives [], since a
    first start reads everything.
    """
    if old_text is None:
        old_text = ""
    if not isinstance(old_text, str):
        raise PoolkitError(f"old {file} text: expected a string, got {type_name(old_text)}")
    new = dict(pair(key, value) for key, value in setting_pairs(new_settings))
    if not old_text.strip():
        return []
    old = parse(old_text)
    return sorted(
        key
        for key in old.keys() | new.keys()
        if comparable(key, old.get(key)) != comparable(key, new.get(key))
        and restarts(key, old, new)
    )


# ------------------------------------------------------------------------- values


def precedence(
    inputs: Mapping[str, Any],
    sized: Mapping[str, Any],
    defaults: Mapping[str, Any],
    keys: Iterable[str],
) -> tuple[dict[str, Any], dict[str, str]]:
    """A role plan's sized figures: each of `keys` is the variable when set (not None in
    `inputs`), else the topology's answer (`sized`), else the product's default; and where
    each came from (``variable``, ``topology``, ``default``)."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for key in keys:
        if inputs.get(key) is not None:
            values[key], origins[key] = inputs[key], "variable"
        elif key in sized:
            values[key], origins[key] = sized[key], "topology"
        else:
            values[key], origins[key] = defaults[key], "default"
    return values, origins


def non_negative(value: Any, variable: str) -> int:
    """A whole number >= 0 (`poolkit.values.as_int`)."""
    number = as_int(value, variable)
    if number < 0:
        raise PoolkitError(f"{variable}: expected a whole number >= 0, got {number}")
    return number


def as_bool(value: Any, variable: str) -> bool:
    """A bool from a bool, 1/0, or a templated "True" / "no" / "off" ..."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
        return value.strip().lower() in TRUE
    raise PoolkitError(f"{variable}: expected true or false, got {value!r}")


def string(value: Any, variable: str) -> str:
    """`value` when it is a string; a YAML scalar of another type is told to be quoted."""
    if not isinstance(value, str):
        raise PoolkitError(
            f"{variable}: expected a string, got {type_name(value)}"
            + ("; quote it in YAML" if isinstance(value, (bool, int, float)) else "")
        )
    return value


def octal_mode(value: Any, variable: str) -> str:
    """A file mode in octal text: an int (YAML reads 0770 as 504) written back in octal
    with a leading 0, or octal digits as given (blanks stripped)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o7777:
        return f"0{value:o}"
    if isinstance(value, str) and re.fullmatch(r"0?[0-7]{3,4}", value.strip()):
        return value.strip()
    raise PoolkitError(f"{variable}: expected an octal file mode such as '0770', got {value!r}")


# ------------------------------------------------------------------------- preflight


def _checked(
    convert: Callable[[Any, str], Any], value: Any, variable: str, problems: list[str], default
):
    if value is None:
        return default
    try:
        return convert(value, variable)
    except PoolkitError as exc:
        problems.append(str(exc))
        return default


def checked_int(value: Any, variable: str, problems: list[str], default: int = 0) -> int:
    """`non_negative(value)`, or `default` when it is null or wrong (the problem noted)."""
    return _checked(non_negative, value, variable, problems, default)


def checked_bool(value: Any, variable: str, problems: list[str], default: bool) -> bool:
    """`as_bool(value)`, or `default` when it is null or wrong (the problem noted)."""
    return _checked(as_bool, value, variable, problems, default)


def user_names(users: Any, variable: str, shape: str, problems: list[str]) -> set[str] | None:
    """Names of a role's users list (entries are {name, ...} mappings or plain names);
    None when there is no list: null, or not a list (noted, saying entries are `shape`)."""
    if users is None:
        return None
    if isinstance(users, (str, Mapping)) or not isinstance(users, Sequence):
        problems.append(f"{variable}: expected a list of {shape} mappings, got {type_name(users)}")
        return None
    names = set()
    for index, user in enumerate(users):
        name = user.get("name") if isinstance(user, Mapping) else user
        if not isinstance(name, str) or not name:
            problems.append(f"{variable}[{index}]: name is missing")
            continue
        names.add(str(name))
    return names


def tls_file_problems(
    config: Mapping[str, Any],
    prefix: str,
    tls: bool,
    files: Sequence[str],
    optional: Sequence[str],
    problems: list[str],
    *,
    missing: str,
    unused: str,
) -> None:
    """With `tls` on, each of `files` (certificate, key) must be set: else ``<prefix>_<key>:
    not set, but <missing>``; with it off, none of `files` and `optional` (the CA) may be:
    else ``<prefix>_<key>: set, but <unused>``. The files themselves are the role's check."""
    if tls:
        for key in files:
            if not config.get(key):
                problems.append(f"{prefix}_{key}: not set, but {missing}")
        return
    for key in (*files, *optional):
        if config.get(key):
            problems.append(f"{prefix}_{key}: set, but {unused}")
