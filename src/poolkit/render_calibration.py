"""`poolkit calibrate`'s output: a terminal table, or JSON/YAML whose `calibration` block
pastes into a topology (docs/sizing.md). Pure: a fit in, text out; no numpy needed here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # poolkit.usl needs numpy and scipy; rendering only reads its fields
    from poolkit.usl import UslFit

FORMATS = ("table", "json", "yaml")


@dataclass(frozen=True)
class Floor:
    """The sizing model's floor, cpu_cores x 2 + effective_spindle_count, for comparison."""

    cpu_cores: int
    effective_spindle_count: int = 0

    @property
    def useful_concurrency(self) -> int:
        return self.cpu_cores * 2 + self.effective_spindle_count


def source_line(fit: UslFit, date: str, measured: str) -> str:
    """Where a recommendation comes from, for the topology's calibration.source."""
    if fit.alpha is None or fit.beta is None or fit.r2 is None:
        return f"poolkit calibrate {date} {measured}: no fit"
    return (
        f"poolkit calibrate {date} {measured}: USL alpha={fit.alpha:.3g} beta={fit.beta:.3g} "
        f"r2={fit.r2:.3f}, peak {_peak(fit)}"
    )


def _peak(fit: UslFit) -> str:
    if fit.peak_concurrency is None:
        return "none (beta = 0)"
    if fit.peak_in_range:
        return f"N* = {fit.peak_concurrency:.1f}"
    return f"N* = {fit.peak_concurrency:.1f}, beyond the measured {fit.max_measured}"


def _factors(factors: tuple[float, ...]) -> str:
    """`x1.17, x0.89, x0.96 (pass 1, 2, 3)`"""
    return (
        ", ".join(f"x{f:.2f}" for f in factors)
        + f" (pass {', '.join(str(i) for i in range(1, len(factors) + 1))})"
    )


def to_dict(fit: UslFit, *, source: str, floor: Floor | None = None) -> dict[str, Any]:
    """JSON-ready data; `calibration` only when the fit recommends a number."""
    result: dict[str, Any] = {
        "points": [
            {
                "concurrency": s.concurrency,
                "repeats": s.repeats,
                "mean_tps": round(s.mean, 3),
                "min_tps": round(s.low, 3),
                "max_tps": round(s.high, 3),
            }
            for s in fit.steps
        ],
        "fit": None,
        "recommendation": fit.recommendation,
        "reason": fit.reason,
    }
    if fit.alpha is not None and fit.beta is not None and fit.lam is not None:
        result["fit"] = {
            "alpha": fit.alpha,
            "beta": fit.beta,
            "lambda": fit.lam,
            "r2": fit.r2,
            "spread": fit.spread,
            "peak_concurrency": fit.peak_concurrency,
            "peak_in_range": fit.peak_in_range,
            "peak_tps": fit.peak_throughput,
            "pass_factors": list(fit.pass_factors) if fit.pass_factors is not None else None,
        }
    if floor is not None:
        result["floor"] = {
            "cpu_cores": floor.cpu_cores,
            "effective_spindle_count": floor.effective_spindle_count,
            "useful_concurrency": floor.useful_concurrency,
        }
    if fit.recommendation is not None:
        result["calibration"] = {"useful_concurrency": fit.recommendation, "source": source}
    return result


def render(fit: UslFit, fmt: str, *, source: str, floor: Floor | None = None) -> str:
    if fmt == "json":
        return json.dumps(to_dict(fit, source=source, floor=floor), indent=2) + "\n"
    if fmt == "yaml":
        data = to_dict(fit, source=source, floor=floor)
        return yaml.safe_dump(data, sort_keys=False, width=1000)
    if fmt == "table":
        return _table(fit, source=source, floor=floor)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _table(fit: UslFit, *, source: str, floor: Floor | None) -> str:
    out = [
        "Measured throughput (tps)"
        if fit.pass_factors is None
        else "Measured throughput (tps), each pass's speed divided out"
    ]
    rows = [("clients", "runs", "mean", "min", "max")]
    rows += [
        (str(s.concurrency), str(s.repeats), f"{s.mean:.1f}", f"{s.low:.1f}", f"{s.high:.1f}")
        for s in fit.steps
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        out.append("  " + "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    out.append("")
    out.append("Universal Scalability Law fit")
    facts: list[tuple[str, str]] = []
    if fit.alpha is not None and fit.r2 is not None:
        facts += [
            ("alpha (contention)", f"{fit.alpha:.4g}"),
            ("beta (coherency)", f"{fit.beta:.4g}"),
            ("lambda (tps of one client)", f"{fit.lam:.1f}"),
            ("r2 (over the means)", f"{fit.r2:.4f}"),
            (
                "repeats' spread",
                "n/a (one run each)" if fit.spread is None else f"{fit.spread:.1%}",
            ),
            *(
                [("passes' speed (divided out)", _factors(fit.pass_factors))]
                if fit.pass_factors is not None
                else []
            ),
            ("peak", _peak(fit)),
            ("peak throughput", f"{fit.peak_throughput:.1f} tps"),
        ]
    else:
        facts.append(("fit", "none"))
    facts.append(("recommendation", str(fit.recommendation or "none: keep the floor")))
    if floor is not None:
        facts.append(
            (
                "floor (for comparison)",
                f"{floor.useful_concurrency} = {floor.cpu_cores} cores x 2 + "
                f"{floor.effective_spindle_count} spindles",
            )
        )
    width = max(len(name) for name, _ in facts)
    out += [f"  {name.ljust(width)}  {value}" for name, value in facts]
    out.append(f"  {'why'.ljust(width)}  {fit.reason}")
    if fit.recommendation is not None:
        out += [
            "",
            "Topology (docs/sizing.md): size the pools at the measured concurrency with",
            "  calibration:",
            f"    useful_concurrency: {fit.recommendation}",
            f"    source: {json.dumps(source)}",
        ]
    return "\n".join(out) + "\n"
