"""Text renderings of a `Sizing`: table (for people), json, yaml, ini (for PgBouncer).

Pure functions returning strings; the CLI prints them.
"""

from __future__ import annotations

import json
import re
import textwrap
from fractions import Fraction
from typing import Any

import yaml

from poolkit.sizing import POOL_MODE, Sizing

FORMATS = ("table", "json", "yaml", "ini")
WIDTH = 96

_PLAIN_NAME = re.compile(r"^[0-9A-Za-z_.\-]+$|^\*$")


def render(sizing: Sizing, fmt: str, *, explain: bool = False, source: str = "") -> str:
    """Render `sizing` in one of FORMATS; the text ends with a newline."""
    if fmt == "json":
        return json.dumps(sizing.to_dict(explain=explain), indent=2) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(
            sizing.to_dict(explain=explain), sort_keys=False, default_flow_style=False, width=WIDTH
        )
    if fmt == "ini":
        return render_ini(sizing, explain=explain)
    if fmt == "table":
        return render_table(sizing, explain=explain, source=source)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


# ----------------------------------------------------------------------------- table


def _rows(rows: list[tuple[str, ...]], indent: int = 2) -> list[str]:
    """Align columns: the first left-aligned, numbers right-aligned, the last free text."""
    if not rows:
        return []
    columns = max(len(r) for r in rows)
    rows = [r + ("",) * (columns - len(r)) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(columns)]
    lines = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if i == 0:
                cells.append(cell.ljust(widths[i]))
            elif i == columns - 1:
                cells.append(cell)
            elif cell.lstrip("-+=").strip().isdigit() or cell.strip().isdigit():
                cells.append(cell.rjust(widths[i]))
            else:
                cells.append(cell.ljust(widths[i]))
        lines.append((" " * indent + "  ".join(cells)).rstrip())
    return lines


def wrap(text: str, first: str, rest: str) -> list[str]:
    """`text` wrapped at WIDTH columns, words and hyphenated words kept whole (also used by
    poolkit.render_clients)."""
    return textwrap.wrap(
        text,
        width=WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def render_table(sizing: Sizing, *, explain: bool = False, source: str = "") -> str:
    s = sizing
    topo = s.topology
    db = topo.database
    fleet = topo.poolers
    pgpool = topo.pgpool
    out: list[str] = []

    fleet_text = (
        f"{s.processes} PgBouncer process{'es' if s.processes != 1 else ''} "
        f"({fleet.hosts} host{'s' if fleet.hosts != 1 else ''} x {fleet.processes_per_host}"
        + (f", {fleet.spare_hosts} spare" if fleet.spare_hosts else "")
        + ")"
    )
    pgpool_text = (
        f", Pgpool-II on {pgpool.nodes} node{'s' if pgpool.nodes != 1 else ''}" if pgpool else ""
    )
    title = f"poolkit size{(' ' + source) if source else ''}"
    out.append(f"{title}: {POOL_MODE} pooling, {fleet_text}{pgpool_text}")
    out.append("")

    # Budget ---------------------------------------------------------------------
    out.append("Server connections")
    budget_rows: list[tuple[str, ...]] = [
        ("max_connections", str(db.max_connections), ""),
        ("- superuser_reserved_connections", str(db.superuser_reserved_connections), ""),
        ("- reserved_connections", str(db.reserved_connections), ""),
        ("- other_connections", str(db.other_connections), "replication, monitoring, admin"),
        ("= budget for the poolers", str(s.server_connections), ""),
    ]
    if pgpool is not None:
        cancel = " x 2 for cancel" if pgpool.query_cancel else ""
        budget_rows += [
            (
                "  PgBouncer share",
                str(s.pgbouncer_budget),
                f"worst case {s.pgbouncer_worst_case} = {_plural(s.processes, 'process', 'es')}"
                f" x {s.server_connections_per_process} (pool + reserve)",
            ),
            (
                f"  Pgpool-II share ({pgpool.budget_percent}%)",
                str(s.pgpool_budget),
                f"worst case {s.pgpool_worst_case} = {_plural(pgpool.nodes, 'node')} x "
                f"{s.num_init_children} children x max_pool {s.max_pool}{cancel}",
            ),
        ]
    else:
        budget_rows.append(
            (
                "  PgBouncer worst case",
                str(s.pgbouncer_worst_case),
                f"{_plural(s.processes, 'process', 'es')} x {s.server_connections_per_process} "
                "(pool + reserve)",
            )
        )
    budget_rows.append(("  unused (headroom)", str(s.unused), ""))
    out += _rows(budget_rows)
    out.append("")

    # Demand ---------------------------------------------------------------------
    out.append("Demand (active server connections)")
    floor = f"{db.cpu_cores} cores x 2 + {db.effective_spindle_count} spindles"
    demand_rows: list[tuple[str, ...]] = [
        (
            "useful concurrency",
            str(s.useful_concurrency),
            f"{floor} (a floor)"
            if topo.calibration is None
            else f"measured (calibration.source); the floor {floor} = "
            f"{db.cpu_cores * 2 + db.effective_spindle_count}",
        )
    ]
    if s.littles_law is not None and topo.workload is not None:
        wl = topo.workload
        demand_rows.append(
            (
                "Little's law + headroom",
                str(s.littles_law),
                f"L = {_num(wl.peak_tps)} tps x {_num(wl.mean_transaction_ms)} ms = "
                f"{_num(wl.busy_connections)} in flight; L + 2 sqrt(L)",
            )
        )
    target = f"{s.active_all_up} with all processes up"
    if fleet.spare_hosts:
        target += (
            f"; {s.active_spares_down} with {_plural(fleet.spare_hosts, 'host')} down "
            f"({s.with_reserve_spares_down} with reserve pools)"
        )
    demand_rows.append(("target", str(s.demand), target))
    out += _rows(demand_rows)
    out.append("")

    # Pools ----------------------------------------------------------------------
    out.append(f"PgBouncer pools (per process; x {s.processes} for the fleet)")
    pool_rows: list[tuple[str, ...]] = [
        ("database/user", "share", "pool_size", "reserve", "ceiling", "fleet pool+reserve")
    ]
    for p in s.pools:
        pool_rows.append(
            (
                p.label,
                str(p.share),
                str(p.pool_size),
                str(p.reserve_pool_size),
                str(p.ceiling),
                f"{p.pool_size * s.processes} + {p.reserve_pool_size * s.processes}",
            )
        )
    out += _rows(pool_rows)
    out.append("  (ceiling: the most pool_size + reserve the budget allows for that pool)")
    out.append("")

    # Settings -------------------------------------------------------------------
    out.append(f"pgbouncer.ini [pgbouncer], each process (pool_mode = {POOL_MODE})")
    out += _rows(
        [
            ("default_pool_size", str(s.default_pool_size), "pairs not listed in pools"),
            ("min_pool_size", str(s.min_pool_size), ""),
            ("reserve_pool_size", str(s.reserve_pool_size), "pairs not listed in pools"),
            ("reserve_pool_timeout", str(s.reserve_pool_timeout), "seconds"),
            (
                "max_client_conn",
                str(s.max_client_conn),
                f"{s.total_clients} clients on "
                f"{_plural(s.surviving_processes, 'surviving process', 'es')} + margin",
            ),
            ("max_db_connections", str(s.max_db_connections), "per database"),
        ]
    )
    out.append("")
    if pgpool is not None:
        out.append("pgpool.conf, each node")
        out += _rows(
            [
                ("num_init_children", str(s.num_init_children), "client sessions per node"),
                ("max_pool", str(s.max_pool), "cached connections per child"),
            ]
        )
        out.append("")

    # Clients --------------------------------------------------------------------
    out.append("Clients")
    client_rows: list[tuple[str, ...]] = []
    for app in topo.apps:
        if app.serverless:
            how = f"{app.serverless_concurrency} concurrent x {app.connections_per_invocation}"
        else:
            how = (
                f"{_plural(int(app.instances or 0), 'instance')} x "
                f"{_plural(int(app.processes or 0), 'process', 'es')} x "
                f"{app.connections_per_process}"
            )
        client_rows.append((app.name, how, str(app.connections)))
    client_rows.append(("total", "", str(s.total_clients)))
    out += _rows(client_rows)
    out.append("")

    out.append("Limits")
    out += _rows([("nofile", str(s.nofile), "file descriptors per PgBouncer process")])
    out.append("")

    # Client settings ------------------------------------------------------------
    out.append("Client settings")
    app_rows = [
        (
            a.name,
            f"SQLAlchemy pool_size={a.pool_size} max_overflow=0",
            "per invocation" if a.serverless else "per process",
        )
        for a in s.apps
    ]
    out += _rows(app_rows)
    if s.prepared_statements == "supported":
        out += wrap(
            f"prepared statements: supported ({s.prepared_reason}); keep driver defaults",
            "  ",
            "    ",
        )
    else:
        out += wrap(
            f"prepared statements: {s.prepared_statements} ({s.prepared_reason}); "
            "psycopg prepare_threshold=None, asyncpg statement_cache_size=0, pgjdbc "
            "prepareThreshold=0",
            "  ",
            "    ",
        )
    out.append("")

    # Notes ----------------------------------------------------------------------
    if s.notes:
        out.append("Notes")
        for note in s.notes:
            out += wrap(note, "  - ", "    ")
        out.append("")

    if explain:
        out.append("How each figure was derived")
        for d in s.derivations:
            out.append(f"  {d.name} = {d.value}")
            out += wrap(d.formula, "      ", "        ")
            out += wrap(f"source: {d.source}", "      ", "        ")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _plural(n: int, word: str, suffix: str = "s") -> str:
    return f"{n} {word}{suffix if n != 1 else ''}"


def _num(x: Any) -> str:
    if isinstance(x, Fraction):
        if x.denominator == 1:
            return str(x.numerator)
        return f"{float(x):g}"
    return str(x)


# ----------------------------------------------------------------------------- ini


def _ini_name(name: str) -> str:
    """PgBouncer quotes names outside [0-9A-Za-z_.-] with double quotes."""
    return name if _PLAIN_NAME.match(name) else f'"{name}"'


def render_ini(sizing: Sizing, *, explain: bool = False) -> str:
    s = sizing
    topo = s.topology
    by_name = {d.name: d for d in s.derivations}
    lines = [
        f"; poolkit size: settings for each of the {s.processes} PgBouncer process"
        f"{'es' if s.processes != 1 else ''} ({POOL_MODE} pooling).",
        "; Connection settings (host, port, auth) come from the pgbouncer role.",
        "[pgbouncer]",
    ]

    def setting(key: str, value: int | str) -> None:
        derivation = by_name.get(f"pgbouncer.{key}")
        if explain and derivation is not None:
            lines.extend(wrap(derivation.formula, "; ", "; "))
        lines.append(f"{key} = {value}")

    setting("pool_mode", POOL_MODE)
    setting("default_pool_size", s.default_pool_size)
    setting("min_pool_size", s.min_pool_size)
    setting("reserve_pool_size", s.reserve_pool_size)
    setting("reserve_pool_timeout", s.reserve_pool_timeout)
    setting("max_client_conn", s.max_client_conn)
    setting("max_db_connections", s.max_db_connections)
    lines.append(f"; each process needs LimitNOFILE / ulimit -n >= {s.nofile}")
    if s.databases:
        lines += ["", "[databases]"]
        if explain:
            lines.append("; per database: reserve_pool is the spelling every PgBouncer version")
            lines.append("; reads (newer versions also accept reserve_pool_size)")
        for entry in s.databases:
            lines.append(
                f"{_ini_name(entry.database)} = pool_size={entry.pool_size} "
                f"reserve_pool={entry.reserve_pool_size} "
                f"max_db_connections={entry.max_db_connections}"
            )
    if s.users:
        lines += ["", "[users]", "; a user's pool_size wins over its database's"]
        for user in s.users:
            lines.append(
                f"{_ini_name(user.user)} = pool_size={user.pool_size} "
                f"reserve_pool_size={user.reserve_pool_size}"
            )
    if topo.pgpool is not None:
        lines += [
            "",
            f"; Pgpool-II (pgpool.conf, each of {_plural(topo.pgpool.nodes, 'node')}): "
            f"num_init_children = {s.num_init_children}, max_pool = {s.max_pool}",
        ]
    lines += ["", "; client settings (transaction pooling):"]
    for app in s.apps:
        per = "invocation" if app.serverless else "process"
        lines.append(
            f";   {app.name}: SQLAlchemy pool_size={app.pool_size} max_overflow=0 (per {per})"
        )
    if s.prepared_statements != "supported":
        lines.append(
            ";   prepared statements: psycopg prepare_threshold=None, asyncpg "
            "statement_cache_size=0, pgjdbc prepareThreshold=0"
        )
    lines.extend(
        wrap(f"prepared statements {s.prepared_statements}: {s.prepared_reason}", ";   ", ";     ")
    )
    if s.notes:
        lines.append("")
        for note in s.notes:
            lines.extend(wrap(note, "; note: ", ";   "))
    return "\n".join(lines) + "\n"
