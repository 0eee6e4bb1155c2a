"""The Universal Scalability Law fitted to measured throughput, and the useful concurrency it
recommends (`poolkit calibrate`, docs/sizing.md "Calibrating the useful concurrency").

    X(N) = lam x N / (1 + alpha x (N - 1) + beta x N x (N - 1))

alpha is contention (the serial fraction), beta coherency (the cost of every pair of clients
agreeing), lam the throughput of one client. With beta > 0 throughput peaks at
N* = sqrt((1 - alpha) / beta) and falls beyond it.

The recommendation is the smallest N whose fitted throughput reaches TARGET of the peak: the
same work with fewer connections, so less queueing inside the database. A fit that cannot
support a number says why and recommends nothing; callers keep the cpu_cores x 2 + spindles
floor. Needs numpy and scipy (the `calibrate` extra); nothing else in poolkit imports this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import curve_fit

from poolkit.measurements import Point, Step, normalise_passes, spread, summarise

#: Distinct concurrency levels a fit needs: three parameters, and one level to check them.
MIN_LEVELS = 4
#: Below this coefficient of determination over the levels' mean throughputs the curve does
#: not follow the measured shape: no recommendation.
MIN_R2 = 0.9
#: The spread of the repeats around their level's mean (pooled relative standard deviation)
#: accepted at REFERENCE_REPEATS runs per level (the default plan's). What places the 95%
#: point is how well each level's mean is known, the spread over the square root of the
#: repeats: above MAX_MEAN_ERROR (5.8%) the runs are too noisy, no recommendation. So three
#: runs spread 10% pass, and a noisier machine passes with more repeats (12% with 5 runs),
#: as the refusal advises.
MAX_SPREAD = 0.10
REFERENCE_REPEATS = 3
MAX_MEAN_ERROR = MAX_SPREAD / math.sqrt(REFERENCE_REPEATS)
#: The best mean throughput must beat the lowest level's by this factor, else it is flat.
MIN_GAIN = 1.1
#: The recommendation reaches this fraction of the peak throughput.
TARGET = 0.95
#: With no peak inside the measured range, the curve still scales when the top level's
#: throughput grows at least this fraction as fast as its clients over the level below.
STILL_SCALING = 0.5
#: beta at or below this is zero: no peak at any concurrency a database serves.
_BETA_ZERO = 1e-12


@dataclass(frozen=True)
class UslFit:
    """The fit of one set of measurements. `recommendation` is None when the fit cannot
    support a number; `reason` says why, or how the recommendation was chosen."""

    steps: tuple[Step, ...]
    alpha: float | None
    beta: float | None
    lam: float | None
    r2: float | None  # over the levels' means, weighted by their repeats
    peak_concurrency: float | None  # N* when beta > 0, inside the measured range or not
    peak_throughput: float | None  # fitted X at N*, or at the top level when N* lies beyond
    recommendation: int | None
    reason: str
    spread: float | None = None  # of the repeats (pooled relative sd); None with one run each
    # Each pass's speed, divided out of its runs before the fit (normalise_passes); None when
    # the runs are not complete passes over the levels and were fitted as measured.
    pass_factors: tuple[float, ...] | None = None

    @property
    def max_measured(self) -> int:
        return self.steps[-1].concurrency if self.steps else 0

    @property
    def peak_in_range(self) -> bool:
        return self.peak_concurrency is not None and self.peak_concurrency <= self.max_measured

    def throughput(self, n: float) -> float:
        """The fitted throughput at concurrency `n` (the fit must have parameters)."""
        if self.alpha is None or self.beta is None or self.lam is None:
            raise ValueError("no fitted parameters")
        return usl(n, self.alpha, self.beta, self.lam)


def usl(n, alpha, beta, lam):
    """X(N); `n` may be a number or a numpy array."""
    return lam * n / (1 + alpha * (n - 1) + beta * n * (n - 1))


def fit_usl(points: tuple[Point, ...] | list[Point]) -> UslFit:
    """Fit the USL to `points` (several repeats per concurrency welcome). When they are
    complete passes over the levels, each pass's speed is divided out first: the steps, the
    spread and the fit are then of the normalised runs."""
    passes = normalise_passes(points)
    factors = passes.factors if passes is not None else None
    if passes is not None:
        points = passes.points
    fit = _fit(points, removed=len(passes.factors) - 1 if passes is not None else 0)
    return replace(fit, pass_factors=factors)


def _fit(points: tuple[Point, ...] | list[Point], removed: int) -> UslFit:
    steps = summarise(points)
    levels = [s.concurrency for s in steps]
    if len(steps) < MIN_LEVELS:
        return _unfit(
            steps,
            f"only {len(steps)} distinct concurrency levels ({', '.join(map(str, levels))}); "
            f"the fit needs at least {MIN_LEVELS}",
        )
    first = steps[0]
    best = max(steps, key=lambda s: s.mean)
    if best.mean <= first.mean * MIN_GAIN:
        return _unfit(
            steps,
            f"throughput does not rise with concurrency (best mean {best.mean:.1f} tps at "
            f"{best.concurrency} clients, {first.mean:.1f} at {first.concurrency}): the "
            f"bottleneck is not the database's concurrency (the client, the network, or a "
            f"pool that caps connections)",
        )
    x = np.array([p.concurrency for p in points], dtype=float)
    y = np.array([p.tps for p in points], dtype=float)
    try:
        alpha, beta, lam = _least_squares(x, y, first)
    except (RuntimeError, ValueError) as exc:
        return _unfit(steps, f"the fit did not converge ({exc})")
    r2 = _r2_of_means(steps, alpha, beta, lam)
    noise = spread(points, removed)
    peak_n = math.sqrt((1 - alpha) / beta) if beta > _BETA_ZERO and alpha < 1 else None
    top = steps[-1].concurrency
    peak_x = usl(min(peak_n, top) if peak_n is not None else top, alpha, beta, lam)
    fitted = dict(alpha=alpha, beta=beta, lam=lam, r2=r2, peak_concurrency=peak_n, spread=noise)
    refusal = None
    fewest = min(s.repeats for s in steps)
    if noise is not None and noise / math.sqrt(fewest) > MAX_MEAN_ERROR:
        refusal = (
            f"the runs are too noisy (repeats spread {noise:.1%} around their level's mean, "
            f"so a mean of {fewest} runs is uncertain by {noise / math.sqrt(fewest):.1%}, "
            f"more than {MAX_MEAN_ERROR:.1%}: a spread of {MAX_SPREAD:.0%} over "
            f"{REFERENCE_REPEATS} runs): measure longer (--duration), with more repeats "
            f"(--repeats, --time-budget), or on a quieter machine"
        )
    elif r2 < MIN_R2:
        refusal = (
            f"the USL fits poorly (r2 = {r2:.3f} < {MIN_R2} over the levels' means): the "
            f"measured shape is not a scalability curve; measure longer (--duration) or with "
            f"more repeats, and look at the plot (--plot)"
        )
    if refusal:
        return UslFit(steps, **fitted, peak_throughput=peak_x, recommendation=None, reason=refusal)
    recommendation, reason = _recommend(steps, alpha, beta, lam, peak_n, peak_x)
    if noise is None:
        reason += (
            "; one run per level, so the runs' noise was not judged (two or more runs per "
            "level judge it: --repeats)"
        )
    return UslFit(
        steps, **fitted, peak_throughput=peak_x, recommendation=recommendation, reason=reason
    )


def _r2_of_means(steps: tuple[Step, ...], alpha: float, beta: float, lam: float) -> float:
    """How much of the variation between the levels' mean throughputs the curve explains.
    Over the means, not the runs: the repeats' scatter is noise, judged by `spread`."""
    weights = np.array([s.repeats for s in steps], dtype=float)
    means = np.array([s.mean for s in steps], dtype=float)
    fitted = usl(np.array([s.concurrency for s in steps], dtype=float), alpha, beta, lam)
    centre = float(np.average(means, weights=weights))
    total = float(np.sum(weights * (means - centre) ** 2))
    residual = float(np.sum(weights * (means - fitted) ** 2))
    return 1 - residual / total if total > 0 else 0.0


def _unfit(steps: tuple[Step, ...], reason: str) -> UslFit:
    return UslFit(steps, None, None, None, None, None, None, None, reason)


def _least_squares(x, y, first: Step) -> tuple[float, float, float]:
    """(alpha, beta, lam) with the least squared error over a few starting points, since
    the error surface has flat valleys where one start can stall."""
    lam0 = max(first.mean / first.concurrency, 1e-9)
    bounds = ([0.0, 0.0, 1e-12], [1.0, np.inf, np.inf])
    best: tuple[float, tuple[float, float, float]] | None = None
    failures: list[str] = []
    for alpha0 in (0.0, 0.05, 0.3):
        for beta0 in (0.0, 1e-4, 1e-2):
            try:
                params, _ = curve_fit(
                    usl, x, y, p0=(alpha0, beta0, lam0), bounds=bounds, x_scale="jac"
                )
            except (RuntimeError, ValueError) as exc:
                failures.append(str(exc))
                continue
            error = float(np.sum((y - usl(x, *params)) ** 2))
            if best is None or error < best[0]:
                best = (error, (float(params[0]), float(params[1]), float(params[2])))
    if best is None:
        raise RuntimeError(failures[0] if failures else "no starting point converged")
    return best[1]


def _recommend(
    steps: tuple[Step, ...],
    alpha: float,
    beta: float,
    lam: float,
    peak_n: float | None,
    peak_x: float,
) -> tuple[int, str]:
    top = steps[-1].concurrency
    if peak_n is None or peak_n > top:
        below = steps[-2].concurrency
        growth = usl(top, alpha, beta, lam) / usl(below, alpha, beta, lam) - 1
        if growth >= STILL_SCALING * (top / below - 1):
            return top, (
                f"no peak within the measured range: throughput still scales at {top} "
                f"clients (x{1 + growth:.2f} from {below}), so {top} is a lower bound; "
                f"measure higher concurrency (--max-clients) to find the peak"
            )
        beyond = f" (N* = {peak_n:.1f})" if peak_n is not None else ""
        where = (
            f"no peak within the measured range{beyond}: the smallest concurrency reaching "
            f"{TARGET:.0%} of the fitted throughput at {top}, the largest measured"
        )
    else:
        where = (
            f"the smallest concurrency reaching {TARGET:.0%} of the fitted peak at "
            f"N* = {peak_n:.1f}"
        )
    target = TARGET * peak_x
    n = next((k for k in range(1, top + 1) if usl(k, alpha, beta, lam) >= target), 1)
    return n, where
