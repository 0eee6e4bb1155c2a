"""Throughput measurements for `poolkit calibrate`: one point per pgbench run, the CSV file
`--replay` reads and `--out-csv` writes, and the per-concurrency summary the table shows.

Pure: text in, records out. Reading and writing the files is `poolkit.cli.calibrate`'s job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from poolkit import PoolkitError

#: The CSV header `--out-csv` writes and `--replay` accepts (optional) as the first row.
CSV_HEADER = ("concurrency", "tps")


@dataclass(frozen=True)
class Point:
    """One run: `concurrency` clients together completed `tps` transactions per second."""

    concurrency: int
    tps: float


@dataclass(frozen=True)
class Step:
    """All runs at one concurrency: how many, and their mean, lowest and highest tps."""

    concurrency: int
    repeats: int
    mean: float
    low: float
    high: float


def parse_csv(text: str, name: str) -> tuple[Point, ...]:
    """The points of a `concurrency,tps` CSV text (header optional; blank lines and lines
    starting with # are skipped). Errors name `name`, the line and what is wrong."""
    points: list[Point] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cells = [cell.strip() for cell in line.split(",")]
        if not points and tuple(cell.lower() for cell in cells) == CSV_HEADER:
            continue
        points.append(_parse_row(cells, f"{name}:{number}"))
    if not points:
        raise PoolkitError(
            f"{name}: no measurements; expected rows of concurrency,tps such as 8,1234.5"
        )
    return tuple(points)


def _parse_row(cells: list[str], where: str) -> Point:
    if len(cells) != 2:
        raise PoolkitError(
            f"{where}: expected 2 comma-separated values (concurrency,tps), got {len(cells)}: "
            f"{','.join(cells)!r}"
        )
    text_n, text_tps = cells
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
    return Point(concurrency, tps)


def format_csv(points: tuple[Point, ...] | list[Point]) -> str:
    """The CSV text of `points`, with the header; `parse_csv` reads it back unchanged."""
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


def spread(points: tuple[Point, ...] | list[Point]) -> float | None:
    """The repeats' pooled relative standard deviation around their level's mean; None when
    no level was run twice."""
    squares = 0.0
    freedom = 0
    for values in _by_concurrency(points).values():
        mean = sum(values) / len(values)
        if len(values) < 2 or mean <= 0:
            continue
        squares += sum(((v - mean) / mean) ** 2 for v in values)
        freedom += len(values) - 1
    return math.sqrt(squares / freedom) if freedom else None
