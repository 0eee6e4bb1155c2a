"""`poolkit calibrate --plot FILE.png`: the measured runs, the fitted USL curve, its peak and
the recommendation, drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from poolkit.measurements import Point
from poolkit.usl import UslFit


def write_plot(fit: UslFit, points: list[Point] | tuple[Point, ...], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axes = plt.subplots(figsize=(8, 5), dpi=100)
    try:
        axes.scatter(
            [p.concurrency for p in points],
            [p.tps for p in points],
            s=14,
            color="tab:blue",
            alpha=0.6,
            label="measured runs",
        )
        axes.plot(
            [s.concurrency for s in fit.steps],
            [s.mean for s in fit.steps],
            "o",
            color="tab:blue",
            label="mean per level"
            + ("" if fit.pass_factors is None else ", each pass's speed divided out"),
        )
        if fit.alpha is not None and fit.r2 is not None:
            n = np.linspace(1, fit.max_measured, 400)
            axes.plot(
                n,
                fit.throughput(n),
                color="tab:orange",
                label=f"USL fit (alpha={fit.alpha:.3g}, beta={fit.beta:.3g}, r2={fit.r2:.3f})",
            )
            if fit.peak_in_range and fit.peak_concurrency is not None:
                axes.axvline(
                    fit.peak_concurrency,
                    color="tab:red",
                    linestyle=":",
                    label=f"peak N* = {fit.peak_concurrency:.1f}",
                )
        if fit.recommendation is not None:
            axes.axvline(
                fit.recommendation,
                color="tab:green",
                linestyle="--",
                label=f"recommendation {fit.recommendation}",
            )
        axes.set_xscale("log", base=2)
        axes.set_xticks([s.concurrency for s in fit.steps], [str(s.concurrency) for s in fit.steps])
        axes.set_xlabel("concurrent clients")
        axes.set_ylabel("transactions per second")
        axes.set_ylim(bottom=0)
        axes.set_title(title)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="lower right", fontsize="small")
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
