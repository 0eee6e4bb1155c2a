"""What `poolkit calibrate` asks of pgbench, and what it reads back: the plan of runs within a
time budget, the scratch TPC-B-like schema and script, and the tps of one run's output.

Pure: the runs themselves (processes, connections, signals) are in `poolkit.cli.calibrate`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from poolkit import PoolkitError

#: The fit needs this many distinct concurrency levels (poolkit.usl.MIN_LEVELS).
MIN_LEVELS = 4
#: Seconds one run measures at the least and at the most when --duration is not given.
MIN_DURATION = 2
MAX_DURATION = 10
#: Repeats per level when --repeats is not given; fewer when the budget is short, but never
#: fewer than MIN_AUTO_REPEATS: with one run per level the fit cannot judge the noise.
DEFAULT_REPEATS = 3
MIN_AUTO_REPEATS = 2
#: Seconds a run costs beyond its duration: starting pgbench, its threads and connections.
RUN_OVERHEAD = 1
#: Seconds to create, fill and drop the scratch schema (a few thousand rows).
SCRATCH_SECONDS = 10

#: The scratch schema: poolkit's own name, created and dropped by one run.
SCHEMA = "poolkit_calibrate"
#: Rows per branch in the scratch schema. One branch per client at the top level, so that
#: updates of one branch row do not serialise every client (pgbench's scale 1 would).
TELLERS_PER_BRANCH = 10
ACCOUNTS_PER_BRANCH = 1000


@dataclass(frozen=True)
class Plan:
    """Each level of `levels` is run `repeats` times for `duration` seconds."""

    levels: tuple[int, ...]
    repeats: int
    duration: int
    setup_seconds: int

    @property
    def runs(self) -> int:
        return len(self.levels) * self.repeats

    @property
    def seconds(self) -> int:
        """An upper estimate of the wall-clock time of the whole calibration."""
        return self.setup_seconds + self.runs * (self.duration + RUN_OVERHEAD)


def concurrency_levels(max_clients: int) -> tuple[int, ...]:
    """1, 2, 4, ... below `max_clients`, then `max_clients` itself."""
    levels: list[int] = []
    n = 1
    while n < max_clients:
        levels.append(n)
        n *= 2
    levels.append(max_clients)
    return tuple(levels)


def plan_runs(
    max_clients: int,
    time_budget: int,
    *,
    duration: int | None = None,
    repeats: int | None = None,
    scratch: bool = True,
) -> Plan:
    """The runs that fit in `time_budget` seconds. Without `duration`, each run lasts as long
    as the budget allows (MIN_DURATION to MAX_DURATION s); without `repeats`, DEFAULT_REPEATS,
    down to MIN_AUTO_REPEATS if the budget is short. Raises PoolkitError naming the option to
    change."""
    levels = concurrency_levels(max_clients)
    if len(levels) < MIN_LEVELS:
        raise PoolkitError(
            f"--max-clients {max_clients} measures only {len(levels)} concurrency levels "
            f"({', '.join(map(str, levels))}); expected at least {2 ** (MIN_LEVELS - 1)} so "
            f"the fit has {MIN_LEVELS}"
        )
    for option, value in (("--duration", duration), ("--repeats", repeats)):
        if value is not None and value < 1:
            raise PoolkitError(f"{option} {value}; expected an integer >= 1")
    setup = SCRATCH_SECONDS if scratch else 0
    if duration is not None:
        chosen = Plan(levels, repeats or DEFAULT_REPEATS, duration, setup)
        if chosen.seconds > time_budget:
            raise PoolkitError(
                f"--time-budget {time_budget} s is too short for {len(levels)} levels x "
                f"{chosen.repeats} repeats x --duration {duration} s (about {chosen.seconds} s); "
                f"raise --time-budget, or lower --duration, --repeats or --max-clients"
            )
        return chosen
    automatic = range(DEFAULT_REPEATS, MIN_AUTO_REPEATS - 1, -1)
    for tries in (repeats,) if repeats is not None else automatic:
        runs = len(levels) * tries
        fitting = (time_budget - setup) // runs - RUN_OVERHEAD
        if fitting >= MIN_DURATION:
            return Plan(levels, tries, min(fitting, MAX_DURATION), setup)
    shortest = Plan(levels, repeats or MIN_AUTO_REPEATS, MIN_DURATION, setup)
    single = "" if repeats is not None else " (or give --repeats 1: the noise goes unjudged)"
    raise PoolkitError(
        f"--time-budget {time_budget} s is too short for {len(levels)} levels x "
        f"{shortest.repeats} repeats of at least {MIN_DURATION} s (about {shortest.seconds} s); "
        f"raise --time-budget or lower --max-clients{single}"
    )


# ----------------------------------------------------------------- where pgbench runs

#: Host names that always mean this host.
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def on_this_host(
    params: dict[str, str],
    resolve: Callable[[str], set[str]],
    is_own: Callable[[str], bool],
) -> str | None:
    """Which of the connection's hosts is this host, said for a message, or None when none
    is known to be. `params` are libpq's connection parameters (host and hostaddr may list
    several, comma-separated); `resolve` gives a host name's addresses (none when it does not
    resolve); `is_own` tells whether an address is one of this host's."""
    hosts = (params.get("hostaddr") or params.get("host") or "").split(",")
    for host in (h.strip() for h in hosts):
        if not host or host.startswith(("/", "@")):
            return f"a Unix socket ({host or 'the default directory'})"
        if host.lower() in LOOPBACK_NAMES:
            return f"{host} (loopback)"
        for address in sorted(_addresses(host, resolve), key=str):
            if address.is_loopback:
                return f"{host} (loopback)"
            if is_own(str(address)):
                return f"{host} (this host's address {address})"
    return None


def _addresses(host: str, resolve: Callable[[str], set[str]]) -> set:
    try:
        return {ipaddress.ip_address(host)}
    except ValueError:
        pass
    found = set()
    for text in resolve(host):
        try:
            found.add(ipaddress.ip_address(text.split("%")[0]))
        except ValueError:
            continue
    return found


def shared_host_note(where: str) -> str:
    """What the plan says when pgbench runs on the host it loads (`where`, from on_this_host)."""
    return (
        f"note: pgbench runs on the host it connects to, {where}: its clients share that "
        f"host's CPUs with the server, so the curve measures the server with less than all "
        f"of them; calibrate from another host to measure the server alone"
    )


# ----------------------------------------------------------------- pgbench's output

# pgbench 14+: "tps = 896.967014 (without initial connection time)"; up to 13 it printed
# "including connections establishing" and then "excluding connections establishing".
_TPS_RE = re.compile(
    r"^tps = (?P<tps>\d+(?:\.\d+)?) \((?P<kind>without initial connection time|"
    r"excluding connections establishing|including connections establishing)\)\s*$",
    re.MULTILINE,
)
_ABORTED = "Run was aborted"


def parse_tps(output: str, run: str) -> float:
    """The transactions per second of one pgbench run's standard output (and error, as one
    text), without connection time when pgbench reports both. `run` names the run in errors."""
    if _ABORTED in output:
        raise PoolkitError(f"{run}: pgbench aborted the run ({_first_problem(output)})")
    found = {m["kind"]: float(m["tps"]) for m in _TPS_RE.finditer(output)}
    for kind in (
        "without initial connection time",
        "excluding connections establishing",
        "including connections establishing",
    ):
        if kind in found:
            return found[kind]
    raise PoolkitError(
        f"{run}: no 'tps = ...' line in pgbench's output ({_first_problem(output)}); "
        f"expected pgbench 10 or newer finishing its run"
    )


def _first_problem(output: str) -> str:
    """pgbench's first error line, else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    if errors:
        return f"first error: {errors[0]!r}"
    return f"last line: {lines[-1]!r}" if lines else "no output"


# ----------------------------------------------------------------- the scratch schema


def scratch_setup_sql(branches: int) -> tuple[str, ...]:
    """Statements creating and filling the scratch schema, `branches` branches."""
    s = SCHEMA
    tellers = branches * TELLERS_PER_BRANCH
    accounts = branches * ACCOUNTS_PER_BRANCH
    return (
        f"CREATE SCHEMA {s}",
        f"CREATE TABLE {s}.branches (bid int PRIMARY KEY, bbalance int NOT NULL)",
        f"CREATE TABLE {s}.tellers (tid int PRIMARY KEY, bid int NOT NULL, tbalance int NOT NULL)",
        f"CREATE TABLE {s}.accounts (aid int PRIMARY KEY, bid int NOT NULL, "
        f"abalance int NOT NULL) WITH (fillfactor = 90)",
        f"CREATE TABLE {s}.history (tid int, bid int, aid int, delta int, mtime timestamp)",
        f"INSERT INTO {s}.branches SELECT b, 0 FROM generate_series(1, {branches}) b",
        f"INSERT INTO {s}.tellers SELECT t, (t - 1) / {TELLERS_PER_BRANCH} + 1, 0 "
        f"FROM generate_series(1, {tellers}) t",
        f"INSERT INTO {s}.accounts SELECT a, (a - 1) / {ACCOUNTS_PER_BRANCH} + 1, 0 "
        f"FROM generate_series(1, {accounts}) a",
        f"ANALYZE {s}.branches, {s}.tellers, {s}.accounts",
    )


DROP_SQL = f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"


def scratch_script(branches: int) -> str:
    """pgbench's built-in TPC-B (sort of) transaction over the scratch schema."""
    s = SCHEMA
    return (
        f"\\set aid random(1, {branches * ACCOUNTS_PER_BRANCH})\n"
        f"\\set bid random(1, {branches})\n"
        f"\\set tid random(1, {branches * TELLERS_PER_BRANCH})\n"
        "\\set delta random(-5000, 5000)\n"
        "BEGIN;\n"
        f"UPDATE {s}.accounts SET abalance = abalance + :delta WHERE aid = :aid;\n"
        f"SELECT abalance FROM {s}.accounts WHERE aid = :aid;\n"
        f"UPDATE {s}.tellers SET tbalance = tbalance + :delta WHERE tid = :tid;\n"
        f"UPDATE {s}.branches SET bbalance = bbalance + :delta WHERE bid = :bid;\n"
        f"INSERT INTO {s}.history (tid, bid, aid, delta, mtime) "
        "VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);\n"
        "END;\n"
    )


def pgbench_argv(conninfo: str, clients: int, duration: int, script: str) -> list[str]:
    """pgbench's command line for one run: -j equal to -c, since a thread serving several
    clients stalls all of them while a pooler makes one wait; -n, as the tables are not
    pgbench's own."""
    return [
        "pgbench",
        "-n",
        "-c",
        str(clients),
        "-j",
        str(clients),
        "-T",
        str(duration),
        "-f",
        script,
        conninfo,
    ]
