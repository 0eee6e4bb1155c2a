"""Known PgBouncer and Pgpool-II advisories, and what they mean for one deployment.

One table (`ADVISORIES`) holds each advisory that matters to a deployment: the releases it
affects, the Debian packages that carry its fix without a new upstream release, the
configuration that makes it exploitable, and what the user can do. `assess` decides, for a
version and the settings about to be written (or read from a running pooler), whether each
advisory is fixed, not exploitable with these settings, accepted by the user, or exposed.

The roles call `check` in preflight (filter ``poolkit_advisories``): an exposed advisory
stops the play before any change, naming the CVE, the fixed release and how to get it,
unless the user lists the CVE in ``<role>_accepted_advisories``. ``poolkit status`` calls
`assess` with the version and settings the running processes report.

Sources (read when written, 2026-11-30): PgBouncer's changelog as shipped in Debian
forky's pgbouncer 1.26.1-1 (/usr/share/doc/pgbouncer/NEWS.md.gz), Pgpool-II's release
notes as shipped in forky's pgpool2 4.7.3-1 (/usr/share/doc/pgpool2/release-*.html), and
the Debian changelogs of trixie's pgbouncer 1.24.1-1+deb13u2 and pgpool2 4.6.1-2 and
bookworm's pgbouncer 1.18.0-1+deb12u1 and pgpool2 4.3.5-1+deb12u1. One condition is wider
than its advisory says, because it was measured: CVE-2026-107349 on 1.24.1 spins with
``options`` in ignore_startup_parameters too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from poolkit import PoolkitError

PGBOUNCER, PGPOOL = "pgbouncer", "pgpool"
PRODUCTS = {PGBOUNCER: "PgBouncer", PGPOOL: "Pgpool-II"}

# Assessment states, in the order a report lists them.
EXPOSED, ACCEPTED, MITIGATED, FIXED = "exposed", "accepted", "mitigated", "fixed"

#: PgBouncer's largest packet PostgreSQL itself would take from a client (MaxAllocSize):
#: the role's max_packet_size below 1.26.0, which keeps CVE-2026-6668's buffer growth
#: away from 2^31.
PGBOUNCER_SAFE_MAX_PACKET = 1073741823

Settings = Mapping[str, str]

# ------------------------------------------------------------------------- versions


def release_of(text: str) -> tuple[int, ...]:
    """(1, 24, 1) from "1.24.1", "1.24.1-1+deb13u2", "1:4.6.1-2", "4.6.1 (kiyoshigahama)"."""
    match = re.match(r"\s*(?:\d+:)?(\d+)\.(\d+)(?:\.(\d+))?", str(text))
    if not match:
        raise PoolkitError(
            f"version {text!r}: expected a release such as '1.24.1' or a Debian package version"
            " such as '1.24.1-1+deb13u2'"
        )
    return tuple(int(part or 0) for part in match.groups())


def _order(char: str) -> int:
    """dpkg's ordering of one non-digit character: ~ first, then letters, then the rest."""
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(left: str, right: str) -> int:
    """dpkg's comparison of an upstream version or a Debian revision."""
    while left or right:
        lead_l = re.match(r"[^\d]*", left).group()
        lead_r = re.match(r"[^\d]*", right).group()
        for index in range(max(len(lead_l), len(lead_r))):
            a = _order(lead_l[index]) if index < len(lead_l) else 0
            b = _order(lead_r[index]) if index < len(lead_r) else 0
            if a != b:
                return -1 if a < b else 1
        left, right = left[len(lead_l) :], right[len(lead_r) :]
        num_l = re.match(r"\d*", left).group()
        num_r = re.match(r"\d*", right).group()
        if int(num_l or 0) != int(num_r or 0):
            return -1 if int(num_l or 0) < int(num_r or 0) else 1
        left, right = left[len(num_l) :], right[len(num_r) :]
    return 0


def debian_compare(left: str, right: str) -> int:
    """-1, 0 or 1 as Debian package version `left` sorts before, with or after `right`."""

    def split(text: str) -> tuple[int, str, str]:
        epoch, _, rest = text.rpartition(":") if ":" in text else ("0", "", text)
        upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "0")
        return int(epoch or 0), upstream, revision

    e1, u1, r1 = split(left.strip())
    e2, u2, r2 = split(right.strip())
    if e1 != e2:
        return -1 if e1 < e2 else 1
    return _compare_part(u1, u2) or _compare_part(r1, r2)


# ------------------------------------------------------------------------- conditions


def _value(settings: Settings, key: str, default: str) -> str:
    value = settings.get(key)
    return default if value is None else str(value).strip().strip("'\"").strip()


def _list(settings: Settings, key: str, default: str = "") -> list[str]:
    return [
        item.strip().lower() for item in _value(settings, key, default).split(",") if item.strip()
    ]


def _on(settings: Settings, key: str, default: str = "off") -> bool:
    return _value(settings, key, default).lower() in ("1", "on", "true", "yes")


def _scram(settings: Settings) -> str | None:
    """Why PgBouncer's clients may authenticate with SCRAM, or None."""
    auth_type = _value(settings, "auth_type", "md5").lower()
    if auth_type in ("scram-sha-256", "md5"):
        # md5 also answers SCRAM when the stored verifier is a SCRAM one (poolkit writes those).
        return f"auth_type is {auth_type}"
    if auth_type == "hba":
        methods = set(_list(settings, "hba_methods", "scram-sha-256"))
        if methods & {"scram-sha-256", "md5"}:
            return "auth_type is hba with scram-sha-256 or md5 rules"
    return None


def _bouncer_options_spin(settings: Settings) -> str | None:
    ignored = _list(settings, "ignore_startup_parameters")
    if ignored:
        return f"ignore_startup_parameters is {', '.join(ignored)} (measured: any non-empty list)"
    return None


def _bouncer_packet_default(settings: Settings) -> str | None:
    size = int(_value(settings, "max_packet_size", "2147483647"))
    if size > PGBOUNCER_SAFE_MAX_PACKET:
        return f"max_packet_size is {size} (above {PGBOUNCER_SAFE_MAX_PACKET})"
    return None


def _bouncer_packet_huge(settings: Settings) -> str | None:
    size = int(_value(settings, "max_packet_size", "2147483647"))
    return f"max_packet_size is {size} (2147483649 or more)" if size >= 2147483649 else None


def _bouncer_search_path(settings: Settings) -> str | None:
    tracked = _list(settings, "track_extra_parameters", "IntervalStyle")
    if "search_path" in tracked and _value(settings, "auth_user", ""):
        return "track_extra_parameters has search_path and auth_user is set"
    return None


def _bouncer_auth_query(settings: Settings) -> str | None:
    return "auth_user is set (auth_query)" if _value(settings, "auth_user", "") else None


def _bouncer_kill_client(settings: Settings) -> str | None:
    stats = _list(settings, "stats_users")
    return f"stats_users is {', '.join(stats)}" if stats else None


def _always(reason: str) -> Callable[[Settings], str | None]:
    return lambda settings: reason


def _pgpool_watchdog(settings: Settings) -> str | None:
    return "use_watchdog is on" if _on(settings, "use_watchdog") else None


def _pgpool_heartbeat(settings: Settings) -> str | None:
    method = _value(settings, "wd_lifecheck_method", "heartbeat").lower()
    if _on(settings, "use_watchdog") and method == "heartbeat":
        return "use_watchdog is on with wd_lifecheck_method heartbeat"
    return None


def _pgpool_cert(settings: Settings) -> str | None:
    if _on(settings, "enable_pool_hba") and "cert" in _list(settings, "hba_methods"):
        return "pool_hba.conf has a cert rule"
    return None


def _pgpool_query_cache(settings: Settings) -> str | None:
    return "memory_cache_enabled is on" if _on(settings, "memory_cache_enabled") else None


def _pgpool_auth_bypass(settings: Settings) -> str | None:
    methods = set(_list(settings, "hba_methods"))
    clear_text = _on(settings, "allow_clear_text_frontend_auth")
    if not _on(settings, "enable_pool_hba"):
        return "enable_pool_hba is off (pattern 2 when pg_hba.conf uses password, pam or ldap)"
    if "password" in methods and not clear_text:
        return "pool_hba.conf has password rules and allow_clear_text_frontend_auth is off"
    raw = _value(settings, "backend_clustering_mode", "streaming_replication").lower() == "raw"
    if raw and "md5" in methods and not clear_text:
        return "raw mode with md5 rules in pool_hba.conf"
    return None


# ------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Advisory:
    """One advisory: which releases, which settings expose it, what to do."""

    id: str
    product: str
    summary: str
    #: Who can exploit it: "an unauthenticated client", "a client with a password", ...
    attacker: str
    #: (first affected, first fixed) upstream releases, one pair per release series.
    affected: tuple[tuple[str, str], ...]
    #: The fixed releases, for messages ("1.26.1", "4.7.3, 4.6.8 or 4.3.21").
    fixed: str
    #: Why these settings expose it, or None when they do not.
    condition: Callable[[Settings], str | None]
    #: What avoids it without an upgrade ("" when only an upgrade helps).
    mitigation: str = ""
    #: Debian package versions that carry the fix for their upstream release.
    debian_fixed: tuple[str, ...] = ()


_POOL_FIXED = "4.7.3, 4.6.8, 4.5.13, 4.4.18 or 4.3.21"
_POOL_2026 = (
    ("3.5.0", "4.3.21"),
    ("4.4.0", "4.4.18"),
    ("4.5.0", "4.5.13"),
    ("4.6.0", "4.6.8"),
    ("4.7.0", "4.7.3"),
)
_NO_SCRAM = "auth_type = cert (client certificates instead of SCRAM passwords)"
_NO_WATCHDOG = (
    "use_watchdog = off (poolkit's default), or the watchdog port reachable only from trusted hosts"
)

ADVISORIES: tuple[Advisory, ...] = (
    Advisory(
        "CVE-2026-107349",
        PGBOUNCER,
        "an unauthenticated client sending options=-c= makes the process spin on a core and"
        " serve nobody",
        "an unauthenticated client",
        (("1.20.0", "1.26.1"),),
        "1.26.1",
        _bouncer_options_spin,
        "an empty ignore_startup_parameters, with extra_float_digits tracked through"
        " track_extra_parameters (poolkit's default from 1.20)",
    ),
    Advisory(
        "CVE-2026-107350",
        PGBOUNCER,
        "a client who knows one user's password can log in as any other SCRAM user, admins"
        " included, with a second StartupMessage to a database that does not exist",
        "a client with one user's password",
        (("1.17.0", "1.26.1"),),
        "1.26.1",
        _scram,
        _NO_SCRAM,
    ),
    Advisory(
        "CVE-2026-107348",
        PGBOUNCER,
        "a packet header declaring a length above 2^31 hangs the process",
        "an unauthenticated client",
        (("1.21.0", "1.26.1"),),
        "1.26.1",
        _bouncer_packet_huge,
        "max_packet_size at most 2147483647",
    ),
    Advisory(
        "CVE-2026-19888",
        PGBOUNCER,
        "a SCRAM client-final-message without a nonce crashes the process (unknown users too)",
        "an unauthenticated client",
        (("1.11.0", "1.26.0"),),
        "1.26.0",
        _scram,
        _NO_SCRAM,
    ),
    Advisory(
        "CVE-2026-6668",
        PGBOUNCER,
        "a large amount of data in one packet overflows the buffer growth and hangs the process",
        "an unauthenticated client",
        (("1.0.0", "1.26.0"),),
        "1.26.0",
        _bouncer_packet_default,
        f"max_packet_size at most {PGBOUNCER_SAFE_MAX_PACKET} (poolkit's default below 1.26.0)",
    ),
    Advisory(
        "CVE-2026-6669",
        PGBOUNCER,
        "an unbounded SCRAM iteration count from the server stalls every client of the process",
        "a malicious or compromised PostgreSQL server",
        (("1.11.0", "1.26.0"),),
        "1.26.0",
        _always("PgBouncer accepts any iteration count from its servers"),
    ),
    Advisory(
        "CVE-2026-6664",
        PGBOUNCER,
        "a malformed SCRAM authentication packet crashes the process",
        "an unauthenticated client",
        (("1.11.0", "1.25.2"),),
        "1.25.2",
        _scram,
        _NO_SCRAM,
        debian_fixed=("1.24.1-1+deb13u2",),
    ),
    Advisory(
        "CVE-2026-6665",
        PGBOUNCER,
        "a long nonce in the server's SCRAM server-final-message overflows the stack",
        "a malicious or compromised PostgreSQL server",
        (("1.11.0", "1.25.2"),),
        "1.25.2",
        _always("PgBouncer logs in to its servers with SCRAM when they ask for it"),
        debian_fixed=("1.24.1-1+deb13u2",),
    ),
    Advisory(
        "CVE-2026-6666",
        PGBOUNCER,
        "an error response without SQLSTATE from a server crashes the process",
        "a malicious or compromised PostgreSQL server",
        (("1.0.0", "1.25.2"),),
        "1.25.2",
        _always("any server PgBouncer connects to can send one"),
        debian_fixed=("1.24.1-1+deb13u2",),
    ),
    Advisory(
        "CVE-2026-6667",
        PGBOUNCER,
        "stats_users can run KILL_CLIENT on the admin console",
        "a stats_users member",
        (("1.24.0", "1.25.2"),),
        "1.25.2",
        _bouncer_kill_client,
        "no stats_users (admin_users only)",
        debian_fixed=("1.24.1-1+deb13u2",),
    ),
    Advisory(
        "CVE-2025-12819",
        PGBOUNCER,
        "a search_path startup parameter runs SQL during auth_query",
        "an unauthenticated client",
        (("1.0.0", "1.25.1"),),
        "1.25.1",
        _bouncer_search_path,
        "search_path not in track_extra_parameters",
        debian_fixed=("1.24.1-1+deb13u1", "1.18.0-1+deb12u1"),
    ),
    Advisory(
        "CVE-2025-2291",
        PGBOUNCER,
        "auth_query's default query lets an expired password log in",
        "a client with an expired password",
        (("1.0.0", "1.24.1"),),
        "1.24.1",
        _bouncer_auth_query,
        "an auth_query that checks VALID UNTIL (poolkit's pgbouncer.user_lookup does)",
        debian_fixed=("1.18.0-1+deb12u1",),
    ),
    Advisory(
        "CVE-2026-92867",
        PGPOOL,
        "a malformed watchdog failover message writes a chosen value to a chosen address",
        "a host that reaches the watchdog port",
        _POOL_2026,
        _POOL_FIXED,
        _pgpool_watchdog,
        _NO_WATCHDOG,
    ),
    Advisory(
        "CVE-2026-92868",
        PGPOOL,
        "a client certificate whose CN holds a NUL byte logs in as another user",
        "a client with a certificate from a trusted CA",
        (("4.0.0", "4.3.21"), *_POOL_2026[1:]),
        _POOL_FIXED,
        _pgpool_cert,
        "no cert rules in pool_hba.conf",
    ),
    Advisory(
        "CVE-2026-92869",
        PGPOOL,
        "a crafted watchdog configuration message writes past fixed-size arrays",
        "a host that reaches the watchdog port",
        _POOL_2026,
        _POOL_FIXED,
        _pgpool_watchdog,
        _NO_WATCHDOG,
    ),
    Advisory(
        "CVE-2026-92870",
        PGPOOL,
        "a malformed watchdog failover message overflows the main process's stack",
        "a host that reaches the watchdog port",
        _POOL_2026,
        _POOL_FIXED,
        _pgpool_watchdog,
        _NO_WATCHDOG,
    ),
    Advisory(
        "CVE-2026-92871",
        PGPOOL,
        "a watchdog message without authentication crashes the watchdog",
        "a host that reaches the watchdog port",
        _POOL_2026,
        _POOL_FIXED,
        _pgpool_watchdog,
        _NO_WATCHDOG,
    ),
    Advisory(
        "CVE-2026-92872",
        PGPOOL,
        "a malformed heartbeat message puts stack memory in the log",
        "a host that reaches the heartbeat port",
        _POOL_2026,
        _POOL_FIXED,
        _pgpool_heartbeat,
        "use_watchdog = off, or wd_lifecheck_method = 'query'",
    ),
    Advisory(
        "CVE-2026-92873",
        PGPOOL,
        "a watchdog promotion message bypasses the authentication key and picks the leader",
        "a host that reaches the watchdog port",
        _POOL_2026,
        _POOL_FIXED,
        _pgpool_watchdog,
        _NO_WATCHDOG,
    ),
    Advisory(
        "CVE-2025-46801",
        PGPOOL,
        "client authentication can be bypassed and any user logged in as",
        "an unauthenticated client",
        (
            ("4.0.0", "4.2.22"),
            ("4.3.0", "4.3.15"),
            ("4.4.0", "4.4.12"),
            ("4.5.0", "4.5.7"),
            ("4.6.0", "4.6.1"),
        ),
        "4.6.1, 4.5.7, 4.4.12 or 4.3.15",
        _pgpool_auth_bypass,
        "enable_pool_hba on with scram-sha-256 rules (poolkit's default)",
        debian_fixed=("4.3.5-1+deb12u1",),
    ),
    Advisory(
        "CVE-2024-45624",
        PGPOOL,
        "the query cache shows rows a user may not read",
        "a client with a password",
        (
            ("3.2.0", "4.1.22"),
            ("4.2.0", "4.2.19"),
            ("4.3.0", "4.3.12"),
            ("4.4.0", "4.4.9"),
            ("4.5.0", "4.5.4"),
        ),
        "4.5.4, 4.4.9 or 4.3.12",
        _pgpool_query_cache,
        "memory_cache_enabled = off (poolkit's default)",
        debian_fixed=("4.3.5-1+deb12u1",),
    ),
)

#: How to get a fixed release, per product (for messages).
HOW_TO_UPGRADE = {
    PGBOUNCER: (
        "install a fixed PgBouncer: set pgbouncer_package_source to an apt suite that has it,"
        " pinned to PgBouncer only ({suite: forky} gives 1.26.1 on Debian 13; on Debian 12 use"
        " the PostgreSQL project's repository, {uris: 'https://apt.postgresql.org/pub/repos/apt',"
        " suite: bookworm-pgdg, signed_by: <its key file>})"
    ),
    PGPOOL: "install a fixed Pgpool-II (Debian forky has 4.7.3)",
}


def by_id(advisory_id: str) -> Advisory:
    for advisory in ADVISORIES:
        if advisory.id == advisory_id:
            return advisory
    raise KeyError(advisory_id)


# ------------------------------------------------------------------------- assessment


@dataclass(frozen=True)
class Assessment:
    """What one advisory means for one deployment."""

    advisory: Advisory
    state: str
    #: Why: the exposing settings, the mitigating ones, or the package that carries the fix.
    reason: str

    def line(self) -> str:
        adv = self.advisory
        return f"{adv.id} [{self.state}] {adv.summary} (fixed in {adv.fixed}): {self.reason}"


def _in_range(version: tuple[int, ...], advisory: Advisory) -> bool:
    return any(release_of(lo) <= version < release_of(hi) for lo, hi in advisory.affected)


def _backported(advisory: Advisory, package_version: str | None) -> str | None:
    """The Debian package version carrying the fix that `package_version` is at or past."""
    if not package_version or "-" not in package_version:
        return None
    for fixed in advisory.debian_fixed:
        same_release = release_of(fixed) == release_of(package_version)
        if same_release and debian_compare(package_version, fixed) >= 0:
            return fixed
    return None


def assess(
    product: str,
    version: str,
    settings: Settings,
    accepted: Iterable[str] = (),
    package_version: str | None = None,
) -> list[Assessment]:
    """Each advisory of `product` that affects `version`, with its state for `settings`.

    `version` is the upstream release ("1.24.1") or a package version; `package_version`
    (a Debian package version) lets backported fixes count; without it a release that
    Debian patched is reported as affected unless the package carries the fix (`line`
    says which package). `settings` maps the product's setting names to their values as
    written in its configuration file (plus ``hba_methods``: the methods of the
    pool_hba.conf or pgbouncer_hba.conf rules, comma-separated).
    """
    if product not in PRODUCTS:
        raise PoolkitError(f"product {product!r}: expected one of {', '.join(PRODUCTS)}")
    release = release_of(version)
    package = package_version or (str(version) if "-" in str(version) else None)
    accepted = {str(item).strip().upper() for item in accepted}
    results: list[Assessment] = []
    for advisory in ADVISORIES:
        if advisory.product != product or not _in_range(release, advisory):
            continue
        carried = _backported(advisory, package)
        if carried:
            results.append(
                Assessment(
                    advisory, FIXED, f"the package {package} carries the fix (from {carried})"
                )
            )
            continue
        why = advisory.condition(settings)
        if why is None:
            results.append(
                Assessment(advisory, MITIGATED, f"not exploitable with {advisory.mitigation}")
            )
        elif advisory.id in accepted:
            results.append(Assessment(advisory, ACCEPTED, f"exploitable ({why}), risk accepted"))
        else:
            results.append(Assessment(advisory, EXPOSED, why))
    return results


def unknown_accepted(product: str | None, accepted: Iterable[str]) -> list[str]:
    """The accepted ids that are not advisories of `product` (of any product with None):
    a typo must not pass."""
    known = {adv.id for adv in ADVISORIES if product is None or adv.product == product}
    return [item for item in accepted if str(item).strip().upper() not in known]


def problems(
    product: str,
    version: str,
    settings: Settings,
    accepted: Sequence[str] = (),
    package_version: str | None = None,
    variable: str | None = None,
) -> list[str]:
    """One message per exposed advisory (and per unknown accepted id), for preflight."""
    variable = variable or f"{product}_accepted_advisories"
    name = PRODUCTS.get(product, product)
    found: list[str] = []
    if not isinstance(accepted, (list, tuple)) or not all(isinstance(a, str) for a in accepted):
        return [
            f"{variable}: expected a list of CVE ids such as ['CVE-2026-107350'], got {accepted!r}"
        ]
    for item in unknown_accepted(product, accepted):
        ids = ", ".join(adv.id for adv in ADVISORIES if adv.product == product)
        found.append(f"{variable}: {item!r} is not a {name} advisory poolkit knows ({ids})")
    shown = package_version or version
    exposed = [
        r
        for r in assess(product, version, settings, accepted, package_version)
        if r.state == EXPOSED
    ]
    for result in exposed:
        adv = result.advisory
        mitigation = f"; or set {adv.mitigation}" if adv.mitigation else ""
        found.append(
            f"{adv.id}: {name} {shown} is vulnerable: {adv.summary} (exploitable by"
            f" {adv.attacker}), because {result.reason}. Fixed in {adv.fixed}{mitigation}."
        )
    if exposed:
        ids = ", ".join(result.advisory.id for result in exposed)
        found.append(
            f"To deploy: {HOW_TO_UPGRADE[product]}; or accept the risk by listing the CVEs in"
            f" {variable}: [{ids}]"
        )
    return found


def check(
    product: str,
    version: str,
    settings: Settings,
    accepted: Sequence[str] = (),
    package_version: str | None = None,
    variable: str | None = None,
) -> list[str]:
    """Preflight: the assessment lines when nothing is exposed, else one PoolkitError."""
    found = problems(product, version, settings, accepted, package_version, variable)
    if found:
        raise PoolkitError("\n".join(found))
    return [
        result.line() for result in assess(product, version, settings, accepted, package_version)
    ]


def settings_from_pairs(
    pairs: Iterable[Sequence[str]], hba_methods: Iterable[str] = ()
) -> dict[str, str]:
    """``{key: value}`` from rendered ``[key, value]`` pairs, plus the hba rules' methods."""
    settings = {str(key).lower(): str(value) for key, value in pairs}
    methods = [str(method).lower() for method in hba_methods]
    if methods:
        settings["hba_methods"] = ",".join(methods)
    return settings
