"""``python -m bench.backtest``: the project's BG/NBD fit against lifetimes on CDNOW, 39 + 39 weeks.

The data set is the one Fader, Hardie & Lee (2005) fit: ``CDNOW_sample.txt`` as shipped inside the
``lifetimes`` package (2,357 customers, a tenth of CDNOW's first-quarter-1997 cohort, every purchase
through June 1998). It is split as in the paper:

* calibration: purchases up to 1997-09-30 give each customer's sufficient statistics in weeks,
  x = distinct purchase days - 1, t_x = last - first purchase day, T = 1997-09-30 - first purchase
  day (these match lifetimes' ``cdnow_customers_summary.csv`` to its two decimals);
* holdout: distinct purchase days in 1997-10-01 .. 1998-06-30, 39 weeks.

Both sides fit the same statistics: the project with ``engagement.domain.fitting.fit_bgnbd``
(grouped, pure Python), lifetimes with ``BetaGeoFitter(penalizer_coef=0).fit`` (one row per
customer). Each side then predicts with its own code: the project with the production closed forms
in ``engagement.domain.probabilities`` (``expected_transactions``, ``p_alive``), lifetimes with its
``conditional_expected_number_of_purchases_up_to_time`` and ``conditional_probability_alive``.
So a row compares the whole path, fit and prediction, and the closed-form rows check the
production math alone (project formulas at lifetimes' parameters against lifetimes).

Targets: each parameter within 1 % of lifetimes'; holdout mean absolute error per customer no
worse than lifetimes' (within 0.1 %: two optima that agree to five digits differ there only by
rounding); the log-likelihood, evaluated by one function for both fits, no lower than lifetimes'
by more than 0.001; the production closed forms within 1e-6 of lifetimes'. The rest is
information. Like ``python -m bench``, a missed target prints MISS and still exits 0; the exit
status is non-zero only when the backtest cannot run. The calibration figure (mean predicted vs
mean actual holdout transactions by calibration frequency, the paper's conditional-expectation
figure) goes to
``docs/img/backtest-calibration.png``.

lifetimes 0.11.3 is a test and benchmark dependency only; ``functions/`` never imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
import warnings
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from time import perf_counter
from typing import Any

from engagement.domain.fitting import FittedBgNbd, bgnbd_log_likelihood, fit_bgnbd, group_stats
from engagement.domain.probabilities import BgNbdParams, expected_transactions, p_alive

ROOT = Path(__file__).resolve().parent.parent
FIGURE_PATH = ROOT / "docs" / "img" / "backtest-calibration.png"
COHORT_FILE = "CDNOW_sample.txt"
CALIBRATION_END = date(1997, 9, 30)
HOLDOUT_END = date(1998, 6, 30)
WEEK_DAYS = 7.0
HOLDOUT_WEEKS = (HOLDOUT_END - CALIBRATION_END).days / WEEK_DAYS
"""39 weeks: 1997-10-01 .. 1998-06-30 inclusive."""
FREQUENCY_BUCKETS = 8
"""Calibration frequencies 0 .. 6 and 7+, as in the paper's figure."""

PARAMETER_TOLERANCE = 0.01
MAE_TOLERANCE = 1e-3
LOG_LIKELIHOOD_TOLERANCE = 1e-3
CLOSED_FORM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Customer:
    x: int
    """Repeat purchase days in the calibration period."""
    t_x: float
    """Weeks from the first to the last calibration purchase day."""
    T: float
    """Weeks from the first purchase day to the end of calibration."""
    holdout: int
    """Distinct purchase days in the holdout period."""

    @property
    def stats(self) -> tuple[int, float, float]:
        return self.x, self.t_x, self.T


def _parse_day(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def lifetimes_dataset(name: str) -> Path:
    """A file of ``lifetimes/datasets`` in the installed package, found without importing lifetimes
    (its import sets a deprecated pandas option, and ``lifetimes.datasets`` needs pkg_resources)."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or spec.origin is None:
        raise RuntimeError("lifetimes is not installed: run `make install` (it is in the dev extras)")
    return Path(spec.origin).parent / "datasets" / name


def load_purchase_days() -> dict[str, set[date]]:
    """Purchase days by customer from the copy of CDNOW inside the installed lifetimes package.

    Columns are the master id, the cohort id, the date (YYYYMMDD), CDs bought and dollars. Several
    orders on one day count once, as in the paper and lifetimes' summaries.
    """
    days: dict[str, set[date]] = defaultdict(set)
    with lifetimes_dataset(COHORT_FILE).open(encoding="ascii") as lines:
        for line in lines:
            fields = line.split()
            if fields:
                days[fields[1]].add(_parse_day(fields[2]))
    return dict(days)


def split(purchase_days: dict[str, set[date]]) -> list[Customer]:
    """Calibration statistics and holdout counts for customers whose first purchase is in calibration."""
    customers = []
    for cohort_id in sorted(purchase_days):
        days = sorted(purchase_days[cohort_id])
        first = days[0]
        if first > CALIBRATION_END:
            continue
        calibration = [d for d in days if d <= CALIBRATION_END]
        holdout = sum(1 for d in days if CALIBRATION_END < d <= HOLDOUT_END)
        customers.append(
            Customer(
                x=len(calibration) - 1,
                t_x=(calibration[-1] - first).days / WEEK_DAYS,
                T=(CALIBRATION_END - first).days / WEEK_DAYS,
                holdout=holdout,
            )
        )
    return customers


@contextlib.contextmanager
def lifetimes_quietly() -> Iterator[None]:
    """Compatibility shim for lifetimes 0.11.3 (2020) on pandas 3 / numpy 2.

    Importing ``lifetimes.utils`` sets ``pd.options.mode.chained_assignment``, which pandas 3
    deprecates with a Pandas4Warning (a DeprecationWarning) and pandas 4 will remove, hence the
    ``pandas<4`` pin in pyproject. Its fitters also call ``warnings.simplefilter("ignore",
    FutureWarning)`` on every likelihood evaluation, which would silence FutureWarnings for the rest
    of the process. Importing and fitting inside this block keeps both local to it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


@dataclass(frozen=True)
class LifetimesFit:
    params: BgNbdParams
    fitter: Any
    """The fitted ``lifetimes.BetaGeoFitter`` (lifetimes has no type information)."""
    standard_errors: dict[str, float]
    """lifetimes' ``standard_errors_`` (from autograd's Hessian)."""
    own_log_likelihood: float
    """lifetimes' own ``_negative_log_likelihood`` at its optimum, in weeks, times -N: the check
    that both sides maximize the same function."""
    seconds: float


def fit_lifetimes(customers: Sequence[Customer]) -> LifetimesFit:
    """lifetimes' BetaGeoFitter on the same statistics, one row per customer, penalizer 0."""
    import numpy as np  # noqa: PLC0415 - benchmark-only dependencies, loaded when used

    with lifetimes_quietly():
        from lifetimes import BetaGeoFitter  # noqa: PLC0415

        x = np.array([c.x for c in customers])
        t_x = np.array([c.t_x for c in customers])
        big_t = np.array([c.T for c in customers])
        started = perf_counter()
        fitter = BetaGeoFitter(penalizer_coef=0.0).fit(x, t_x, big_t)
        seconds = perf_counter() - started
        r, alpha, a, b = (float(fitter.params_[name]) for name in ("r", "alpha", "a", "b"))
        log_params = np.log(np.array([r, alpha, a, b]))
        weights = np.ones_like(x)
        mean_nll = float(BetaGeoFitter._negative_log_likelihood(log_params, x, t_x, big_t, weights, 0.0))
        errors = {name: float(fitter.standard_errors_[name]) for name in ("r", "alpha", "a", "b")}
    params = BgNbdParams(r=r, alpha=alpha, a=a, b=b)
    return LifetimesFit(params, fitter, errors, -mean_nll * len(customers), seconds)


def lifetimes_predictions(
    fit: LifetimesFit, customers: Sequence[Customer]
) -> tuple[list[float], list[float]]:
    """lifetimes' own (E[holdout transactions], P(alive)) per customer."""
    import numpy as np  # noqa: PLC0415

    x = np.array([c.x for c in customers])
    t_x = np.array([c.t_x for c in customers])
    big_t = np.array([c.T for c in customers])
    with lifetimes_quietly():
        expected = fit.fitter.conditional_expected_number_of_purchases_up_to_time(
            HOLDOUT_WEEKS, x, t_x, big_t
        )
        alive = fit.fitter.conditional_probability_alive(x, t_x, big_t)
    return [float(v) for v in expected], [float(v) for v in alive]


def project_predictions(
    params: BgNbdParams, customers: Sequence[Customer]
) -> tuple[list[float], list[float]]:
    """The production closed forms' (E[holdout transactions], P(alive)) per customer."""
    expected = [expected_transactions(HOLDOUT_WEEKS, c.x, c.t_x, c.T, params) for c in customers]
    alive = [p_alive(c.x, c.t_x, c.T, params) for c in customers]
    return expected, alive


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve: P(a positive scores above a negative), ties counting one half.

    Mann-Whitney with mid-ranks, so the large tie of customers without a repeat purchase (P(alive)
    is 1 for all of them under BG/NBD) is scored as a coin flip, not in input order.
    """
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for i in order[start : end + 1]:
            ranks[i] = (start + end) / 2 + 1
        start = end + 1
    positives = sum(labels)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both positives and negatives")
    rank_sum = sum(rank for rank, positive in zip(ranks, labels, strict=True) if positive)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def mean_absolute_error(predicted: Sequence[float], actual: Sequence[int]) -> float:
    return sum(abs(p - a) for p, a in zip(predicted, actual, strict=True)) / len(actual)


@dataclass(frozen=True)
class Line:
    """One row of the table: both sides, how they compare, and the target if there is one."""

    name: str
    project: float
    lifetimes: float
    difference: str
    target: str
    passed: bool | None
    """None for an informational row."""
    decimals: int = 6

    @property
    def status(self) -> str:
        return "info" if self.passed is None else ("PASS" if self.passed else "MISS")


def _relative(project: float, reference: float) -> float:
    return (project - reference) / abs(reference)


def render(lines: Sequence[Line], title: str) -> str:
    """A fixed-width table in the style of ``bench.report.Section.render``."""
    header = ["", "project", "lifetimes", "difference", "target", ""]
    cells = [
        [
            line.name,
            f"{line.project:,.{line.decimals}f}",
            f"{line.lifetimes:,.{line.decimals}f}",
            line.difference,
            line.target,
            line.status,
        ]
        for line in lines
    ]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]

    def format_row(row: list[str]) -> str:
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:-1], widths[1:-1], strict=True)]
        return "  ".join([first, *rest, row[-1]]).rstrip()

    body = [format_row(header), *map(format_row, cells)]
    rule = "-" * max(len(row) for row in body)
    return "\n".join([title, rule, body[0], rule, *body[1:], rule])


@dataclass(frozen=True)
class Bucket:
    label: str
    customers: int
    actual: float
    project: float
    lifetimes: float


def calibration_buckets(
    customers: Sequence[Customer], project: Sequence[float], lifetimes: Sequence[float]
) -> list[Bucket]:
    """Mean actual and predicted holdout transactions by calibration frequency 0 .. 6, 7+."""
    members: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(customers):
        members[min(c.x, FREQUENCY_BUCKETS - 1)].append(i)
    buckets = []
    for key in range(FREQUENCY_BUCKETS):
        idx = members.get(key, [])
        if not idx:
            continue
        label = f"{key}+" if key == FREQUENCY_BUCKETS - 1 else str(key)
        buckets.append(
            Bucket(
                label=label,
                customers=len(idx),
                actual=sum(customers[i].holdout for i in idx) / len(idx),
                project=sum(project[i] for i in idx) / len(idx),
                lifetimes=sum(lifetimes[i] for i in idx) / len(idx),
            )
        )
    return buckets


def render_buckets(buckets: Sequence[Bucket]) -> str:
    header = f"{'x (calibration)':>15}  {'customers':>9}  {'actual':>7}  {'project':>7}  {'lifetimes':>9}"
    rule = "-" * len(header)
    rows = [
        f"{b.label:>15}  {b.customers:>9,}  {b.actual:>7.3f}  {b.project:>7.3f}  {b.lifetimes:>9.3f}"
        for b in buckets
    ]
    title = "Mean holdout transactions per customer by calibration frequency"
    return "\n".join([title, rule, header, rule, *rows, rule])


def plot(buckets: Sequence[Bucket], path: Path) -> None:
    """As in the paper's figure of conditional expectations: predicted against what customers then did."""
    import matplotlib  # noqa: PLC0415 - only the benchmark draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    labels = [b.label for b in buckets]
    positions = list(range(len(buckets)))
    figure, axes = plt.subplots(figsize=(7.0, 4.5), dpi=120)
    axes.plot(positions, [b.actual for b in buckets], "o-", color="black", label="actual")
    axes.plot(positions, [b.project for b in buckets], "s--", color="tab:blue", label="project (fit_bgnbd)")
    axes.plot(
        positions, [b.lifetimes for b in buckets], "x:", color="tab:orange", label="lifetimes BetaGeoFitter"
    )
    axes.set_xticks(positions, labels)
    axes.set_xlabel("repeat transactions in calibration (weeks 1-39)")
    axes.set_ylabel("mean transactions in holdout (weeks 40-78)")
    axes.set_title("CDNOW BG/NBD: conditional expectation vs holdout")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


@dataclass(frozen=True)
class Backtest:
    customers: list[Customer]
    project: FittedBgNbd
    project_seconds: float
    lifetimes: LifetimesFit
    lines: list[Line]
    buckets: list[Bucket]


def run() -> Backtest:
    """Load, split, fit both ways, predict both ways, and compare."""
    customers = split(load_purchase_days())
    grouped = group_stats(c.stats for c in customers)
    started = perf_counter()
    project = fit_bgnbd(grouped)
    project_seconds = perf_counter() - started
    lifetimes = fit_lifetimes(customers)

    lines: list[Line] = []
    for name in ("r", "alpha", "a", "b"):
        ours, theirs = getattr(project.params, name), getattr(lifetimes.params, name)
        relative = _relative(ours, theirs)
        lines.append(
            Line(
                name,
                ours,
                theirs,
                f"rel {relative:+.1e}",
                f"|diff| <= {PARAMETER_TOLERANCE:.0%}",
                abs(relative) <= PARAMETER_TOLERANCE,
            )
        )

    ll_project = project.log_likelihood
    ll_lifetimes = bgnbd_log_likelihood(lifetimes.params, grouped)
    lines.append(
        Line(
            "log-likelihood (same function)",
            ll_project,
            ll_lifetimes,
            f"{ll_project - ll_lifetimes:+.1e}",
            f">= -{LOG_LIKELIHOOD_TOLERANCE:g}",
            ll_project - ll_lifetimes >= -LOG_LIKELIHOOD_TOLERANCE,
        )
    )
    lines.append(
        Line(
            "  lifetimes' optimum, both LL functions",
            ll_lifetimes,
            lifetimes.own_log_likelihood,
            f"{ll_lifetimes - lifetimes.own_log_likelihood:+.2e}",
            "-",
            None,
        )
    )

    actual = [c.holdout for c in customers]
    ours_expected, ours_alive = project_predictions(project.params, customers)
    their_expected, their_alive = lifetimes_predictions(lifetimes, customers)
    mae_ours = mean_absolute_error(ours_expected, actual)
    mae_theirs = mean_absolute_error(their_expected, actual)
    lines.append(
        Line(
            "holdout MAE per customer",
            mae_ours,
            mae_theirs,
            f"rel {_relative(mae_ours, mae_theirs):+.1e}",
            f"<= +{MAE_TOLERANCE:.1%}",
            mae_ours <= mae_theirs * (1 + MAE_TOLERANCE),
        )
    )
    total_actual = float(sum(actual))
    lines.append(
        Line(
            "holdout transactions, expected",
            sum(ours_expected),
            sum(their_expected),
            f"actual {total_actual:,.0f}",
            "-",
            None,
            decimals=1,
        )
    )

    no_purchase = [c.holdout == 0 for c in customers]
    auc_ours = roc_auc([1.0 - p for p in ours_alive], no_purchase)
    auc_theirs = roc_auc([1.0 - p for p in their_alive], no_purchase)
    lines.append(
        Line(
            "AUC no-purchase by 1 - P(alive)",
            auc_ours,
            auc_theirs,
            f"{auc_ours - auc_theirs:+.1e}",
            "-",
            None,
        )
    )
    scored = [i for i, c in enumerate(customers) if c.x >= 1]
    auc_ours_scored = roc_auc([1.0 - ours_alive[i] for i in scored], [no_purchase[i] for i in scored])
    auc_theirs_scored = roc_auc([1.0 - their_alive[i] for i in scored], [no_purchase[i] for i in scored])
    lines.append(
        Line(
            "  same, customers with x >= 1",
            auc_ours_scored,
            auc_theirs_scored,
            f"{auc_ours_scored - auc_theirs_scored:+.1e}",
            "-",
            None,
        )
    )
    auc_ours_e = roc_auc([-e for e in ours_expected], no_purchase)
    auc_theirs_e = roc_auc([-e for e in their_expected], no_purchase)
    lines.append(
        Line(
            "AUC no-purchase by -E[holdout]",
            auc_ours_e,
            auc_theirs_e,
            f"{auc_ours_e - auc_theirs_e:+.1e}",
            "-",
            None,
        )
    )

    # The production formulas alone: project closed forms at lifetimes' own parameters, against
    # lifetimes' predictions; the columns are the means, the difference the worst customer.
    check_expected, check_alive = project_predictions(lifetimes.params, customers)
    for name, ours_values, theirs_values in (
        ("closed forms at lifetimes' fit: E[Y(39)]", check_expected, their_expected),
        ("closed forms at lifetimes' fit: P(alive)", check_alive, their_alive),
    ):
        worst = max(abs(p - q) for p, q in zip(ours_values, theirs_values, strict=True))
        lines.append(
            Line(
                name,
                sum(ours_values) / len(ours_values),
                sum(theirs_values) / len(theirs_values),
                f"max {worst:.1e}",
                f"<= {CLOSED_FORM_TOLERANCE:g}",
                worst <= CLOSED_FORM_TOLERANCE,
            )
        )

    lines.append(
        Line(
            "fit time (s)",
            project_seconds,
            lifetimes.seconds,
            f"x{project_seconds / lifetimes.seconds:.1f}",
            "-",
            None,
            decimals=3,
        )
    )
    buckets = calibration_buckets(customers, ours_expected, their_expected)
    return Backtest(customers, project, project_seconds, lifetimes, lines, buckets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.backtest", description="CDNOW backtest: fit_bgnbd against lifetimes"
    )
    parser.add_argument(
        "--figure", type=Path, default=FIGURE_PATH, help="where to write the calibration plot"
    )
    args = parser.parse_args(argv)
    started = perf_counter()
    result = run()
    fit = result.project
    holdout = sum(c.holdout for c in result.customers)
    title = (
        f"BG/NBD on CDNOW: {fit.customers:,} customers ({fit.groups:,} distinct histories), calibration "
        f"to {CALIBRATION_END}, holdout {HOLDOUT_WEEKS:.0f} weeks to {HOLDOUT_END} ({holdout:,} transactions)"
    )
    print(render(result.lines, title))
    print(
        f"  project fit: {fit.iterations} BFGS iterations (all starts), {fit.evaluations} evaluations, "
        f"converged={fit.converged} ({fit.message})"
    )
    if fit.standard_errors is not None:
        se = fit.standard_errors
        print(f"  project standard errors:   r {se.r:.4f}, alpha {se.alpha:.4f}, a {se.a:.4f}, b {se.b:.4f}")
    theirs = result.lifetimes.standard_errors
    print(
        f"  lifetimes standard errors: r {theirs['r']:.4f}, alpha {theirs['alpha']:.4f}, "
        f"a {theirs['a']:.4f}, b {theirs['b']:.4f}"
    )
    print("  published (Fader, Hardie & Lee 2005): r 0.243, alpha 4.414, a 0.793, b 2.426, LL -9,582.4")
    print()
    print(render_buckets(result.buckets))
    plot(result.buckets, args.figure)
    missed = [line.name for line in result.lines if line.passed is False]
    targets = [line for line in result.lines if line.passed is not None]
    print(
        f"\nTargets met: {len(targets) - len(missed)} of {len(targets)}."
        + (f" MISSED: {'; '.join(missed)}." if missed else "")
    )
    print(f"Calibration plot written to {_shown(args.figure)} ({perf_counter() - started:.1f} s in all)")
    return 0


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(ROOT))
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
