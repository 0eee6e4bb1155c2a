"""Throughput measurements for `poolkit calibrate`: one point per pgbench run, the CSV file
`--replay` reads and `--out-csv` writes, the per-concurrency summary the table shows, and the
passes' speed divided out (`normalise_passes`).

Pure: text in, records out. Reading and writing the files is `poolkit.cli.calibrate`'s job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from poolkit import PoolkitError

#: The CSV header `--replay` accepts (optional) as the first row; with a third column, `pass`,
#: each run names the pass over the levels that measured it (what `--out-csv` writes).
CSV_HEADER = ("concurrency", "tps")
CSV_HEADER_PASSES = ("concurrency", "tps", "pass")


@dataclass(frozen=True)
class Point:
    """One run: `concurrency` clients together completed `tps` transactions per second, in
    pass `pass_number` over the levels (1, 2, ...; None when not known)."""

    concurrency: int
    tps: float
    pass_number: int | None = None


@dataclass(frozen=True)
class Step:
    """All runs at one concurrency: how many, and their mean, lowest and highest tps."""

    concurrency: int
    repeats: int
    mean: float
    low: float
    high: float


def parse_csv(text: str, name: str) -> tuple[Point, ...]:
    """The points of a `concurrency,tps` or `concurrency,tps,pass` CSV text (header optional;
    blank lines and lines starting with # are skipped; every row has the same columns).
    Errors name `name`, the line and what is wrong."""
    points: list[Point] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cells = [cell.strip() for cell in line.split(",")]
        header = tuple(cell.lower() for cell in cells)
        if not points and header in (CSV_HEADER, CSV_HEADER_PASSES):
            continue
        where = f"{name}:{number}"
        point = _parse_row(cells, where)
        if points and (point.pass_number is None) != (points[0].pass_number is None):
            raise PoolkitError(
                f"{where}: {len(cells)} values where the first row has "
                f"{2 if points[0].pass_number is None else 3}; expected every row as "
                f"concurrency,tps or every row as concurrency,tps,pass"
            )
        points.append(point)
    if not points:
        raise PoolkitError(
            f"{name}: no measurements; expected rows of concurrency,tps such as 8,1234.5"
        )
    return tuple(points)


def _parse_row(cells: list[str], where: str) -> Point:
    if len(cells) not in (2, 3):
        raise PoolkitError(
            f"{where}: expected 2 or 3 comma-separated values (concurrency,tps[,pass]), got "
            f"{len(cells)}: {','.join(cells)!r}"
        )
    text_n, text_tps = cells[:2]
    try:
        concurrency = int(text_n)
    except ValueError:
        raise PoolkitError(
            f"{where}: concurrency {text_n!r} is not a whole number; expected an integer >= 1"
        ) from None
    if concurrency < 1:
        raise PoolkitError(f"{where}: concurrency {concurrency}; expected an integer >= 1")
    try:
        tps = float(text_tps)
    except ValueError:
        raise PoolkitError(
            f"{where}: tps {text_tps!r} is not a number; expected transactions per second >= 0"
        ) from None
    if not math.isfinite(tps) or tps < 0:
        raise PoolkitError(f"{where}: tps {text_tps}; expected a finite number >= 0")
    if len(cells) == 2:
        return Point(concurrency, tps)
    try:
        pass_number = int(cells[2])
    except ValueError:
        pass_number = 0
    if pass_number < 1:
        raise PoolkitError(
            f"{where}: pass {cells[2]!r}; expected the number of the pass over the levels "
            f"that measured the run, an integer >= 1"
        )
    return Point(concurrency, tps, pass_number)


def format_csv(points: tuple[Point, ...] | list[Point]) -> str:
    """The CSV text of `points`, with the header (and the pass column when every point has
    its pass); `parse_csv` reads it back unchanged."""
    if points and all(p.pass_number is not None for p in points):
        rows = [",".join(CSV_HEADER_PASSES)]
        rows += [f"{p.concurrency},{p.tps!r},{p.pass_number}" for p in points]
    else:
        rows = [",".join(CSV_HEADER)]
        rows += [f"{p.concurrency},{p.tps!r}" for p in points]
    return "\n".join(rows) + "\n"


def _by_concurrency(points: tuple[Point, ...] | list[Point]) -> dict[int, list[float]]:
    by_n: dict[int, list[float]] = {}
    for point in points:
        by_n.setdefault(point.concurrency, []).append(point.tps)
    return by_n


def summarise(points: tuple[Point, ...] | list[Point]) -> tuple[Step, ...]:
    """One `Step` per distinct concurrency, in increasing order."""
    return tuple(
        Step(n, len(values), sum(values) / len(values), min(values), max(values))
        for n, values in sorted(_by_concurrency(points).items())
    )


def spread(points: tuple[Point, ...] | list[Point], removed: int = 0) -> float | None:
    """The repeats' pooled relative standard deviation around their level's mean; None when
    no level was run twice. `removed`: how many numbers were already fitted to the points
    beyond the levels' means (the pass factors of `normalise_passes` but one), each a degree
    of freedom the spread no longer has."""
    squares = 0.0
    freedom = -removed
    for values in _by_concurrency(points).values():
        mean = sum(values) / len(values)
        if len(values) < 2 or mean <= 0:
            continue
        squares += sum(((v - mean) / mean) ** 2 for v in values)
        freedom += len(values) - 1
    return math.sqrt(squares / freedom) if freedom > 0 else None


@dataclass(frozen=True)
class Passes:
    """Runs with their pass's speed divided out: `factors[i]` is how fast pass i + 1 ran
    compared with all passes (1.1: its runs were 10% faster at every level)."""

    points: tuple[Point, ...]
    factors: tuple[float, ...]


def normalise_passes(points: tuple[Point, ...] | list[Point]) -> Passes | None:
    """Divide each run by its pass's speed, when the runs form complete passes: every point
    names its pass, there are at least two, and each pass measured the same levels once.

    A machine whose speed changes between passes (another tenant, a checkpoint, a CPU's
    clock) moves every level of that pass alike; left in, it looks like noise at each level
    and can refuse a fit whose shape is clear. The model is multiplicative, log(tps) = pass +
    level, and the pass terms are its least-squares solution in logs: the mean of a pass's
    log(tps) less the mean over all runs. What speed changes within a pass remains as
    spread. None when the runs are not complete passes (or a run measured 0 tps)."""
    if not points or any(p.pass_number is None or p.tps <= 0 for p in points):
        return None
    by_pass: dict[int, dict[int, float]] = {}
    for point in points:
        levels = by_pass.setdefault(point.pass_number or 0, {})
        if point.concurrency in levels:
            return None
        levels[point.concurrency] = point.tps
    if len(by_pass) < 2 or len({frozenset(levels) for levels in by_pass.values()}) != 1:
        return None
    grand = sum(math.log(p.tps) for p in points) / len(points)
    factor = {
        number: math.exp(sum(math.log(v) for v in levels.values()) / len(levels) - grand)
        for number, levels in by_pass.items()
    }
    return Passes(
        tuple(
            Point(p.concurrency, p.tps / factor[p.pass_number or 0], p.pass_number) for p in points
        ),
        tuple(factor[number] for number in sorted(factor)),
    )
