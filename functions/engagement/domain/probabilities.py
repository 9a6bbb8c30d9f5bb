"""Probabilities for contacts with little data: BG/NBD closed forms and Beta-Binomial smoothing.

Pure ``math``: the parameters are fitted elsewhere (the weekly fit, ``domain.fitting`` and
``domain.models``, or a published prior) and only evaluated here. Notation follows Fader, Hardie
& Lee (2005), "Counting Your Customers the Easy Way", and lifetimes' ``BetaGeoFitter``
(scoring-math notes §5.1-§5.2, §5.5). Times are in the fit's unit (weeks for the CDNOW fit);
``x`` is the number of *repeat* events (all events but the first),
``t_x`` the time of the last event and ``T`` the age, both measured from the first event.

    P(alive | x, t_x, T) = 1 / (1 + [a / (b + x - 1)] · ((alpha + T) / (alpha + t_x))^(r + x))   (x > 0)
    P(alive | 0, 0, T)   = 1
    E[Y(t) | x, t_x, T]  = (a + b + x - 1) / (a - 1)
                           · [1 - (1 - z)^(r + x) · ₂F₁(r + x, b + x; a + b + x - 1; z)]
                           · P(alive | x, t_x, T),          z = t / (alpha + T + t)
    P(≥1 event in (T, T + t]) ≈ P(alive) · [1 - ((alpha + T) / (alpha + T + t))^(r + x)]
    Beta-Binomial:  p̂ = (a0 + k) / (a0 + b0 + n),  a0 = mean · strength,  b0 = (1 - mean) · strength

Known answers with the CDNOW parameters (r 0.243, alpha 4.414, a 0.793, b 2.426), as computed by
lifetimes 0.11.3 (see tests/unit/test_probabilities.py): P(alive | 2, 30.43, 38.86) = 0.72658;
P(alive | 10, 10, 38.9) = 0.000184 (a frequent customer gone silent); E[Y(39) | 2, 30.43, 38.86]
= 1.22603. Prior mean 0.05, strength 20: 1 of 1 → 0.0952, 5 of 20 → 0.15, 20 of 100 → 0.175.

Caveats (notes §5.1): a contact with no repeat event is always "alive" under BG/NBD, so
:func:`contact_probabilities` reports ``insufficient_data`` below a minimum number of events
instead of a confident-looking number; and the horizon probability ignores death inside the
window, which is fine for horizons short against the contact's history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from engagement.domain.contact import ContactState
from engagement.domain.decay import MS_PER_DAY
from engagement.domain.event_types import EventType

_EPSILON = 2.0**-53
_SERIES_MAX_TERMS = 200_000
"""Enough for z ≤ 0.999 with any exponent; beyond that a series is too slow to be a fallback."""
_CONNECTION_MIN_Z = 0.9
"""Above this the 1 - z connection formula converges in a few dozen terms; below it, the series."""
_CONNECTION_MIN_GAP = 1e-3
"""The connection formula's two terms grow like 1 / gap as c - a - b nears an integer and cancel;
at a gap of 1e-3 that costs three of the sixteen digits, nearer than that it is not used."""
_GOOD_CONDITION = 1e4
"""Σ|terms| / |sum| up to this loses at most 4 digits: accept the first form that achieves it."""
_WORST_CONDITION = 1e8
"""Beyond this (fewer than 8 good digits) no form is returned and hyp2f1 raises."""


@dataclass(frozen=True)
class BgNbdParams:
    """BG/NBD parameters: purchase rates ~ Gamma(r, alpha), per-event dropout probability ~ Beta(a, b).

    Defaults: the CDNOW fit (Fader, Hardie & Lee 2005, as published in the lifetimes Quickstart),
    in weeks. Their scale is retail purchases, not SMS replies: the weekly fit replaces them with the
    tenant's own once it has enough contacts (``domain.models``).
    """

    r: float = 0.243
    alpha: float = 4.414
    a: float = 0.793
    b: float = 2.426
    time_unit_days: float = 7.0

    def __post_init__(self) -> None:
        for name in ("r", "alpha", "a", "b", "time_unit_days"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"BG/NBD parameter {name} must be a positive number, got {value}")


CDNOW_BGNBD = BgNbdParams()
CDNOW_MODEL = "prior:cdnow-2005"
"""The published CDNOW fit (Fader, Hardie & Lee 2005), used until the deployment's own replaces it."""
CONFIGURED_PRIOR_MODEL = "prior:configured"
"""Parameters an operator set in ``PREDICTION`` (a prior, not fitted here)."""
DEFAULT_CONVERSION_PRIOR_MODEL = "prior:default"
"""The built-in conversion prior (mean 0.05, strength 20)."""


def _is_pole(value: float) -> bool:
    """Γ has poles at 0, -1, -2, ...; a Pochhammer symbol of such a value eventually hits 0."""
    return value <= 0 and value == math.floor(value)


def _gamma_quotient(numerator: tuple[float, ...], denominator: tuple[float, ...]) -> float:
    """Π Γ(numerator) / Π Γ(denominator) through lgamma, so large arguments do not overflow early.

    1/Γ is 0 at a pole, so a pole in the denominator makes the quotient 0.
    """
    if any(_is_pole(v) for v in denominator):
        return 0.0
    sign = 1.0
    log_magnitude = 0.0
    for values, direction in ((numerator, 1.0), (denominator, -1.0)):
        for v in values:
            if _is_pole(v):
                raise ArithmeticError(f"Γ({v}) is infinite")
            # Γ is negative on (-1, 0), (-3, -2), ...: where floor(v) is odd.
            if v < 0 and math.floor(v) % 2 == 1:
                sign = -sign
            log_magnitude += direction * math.lgamma(v)
    return sign * math.exp(log_magnitude)


@dataclass(frozen=True)
class _Evaluation:
    value: float
    condition: float
    """Σ|terms| / |value|: how much rounding the summation amplified (1 = none)."""


def _series(a: float, b: float, c: float, z: float) -> _Evaluation:
    """Σ_n (a)_n (b)_n / ((c)_n n!) · zⁿ, until the remaining tail is below double precision.

    Each term is the previous one times ``q_n = (a + n)(b + n) / ((c + n)(n + 1)) · z``. Past the
    parameters' magnitudes q_n is monotone with limit z, so once q = max(q_next, z) < 1 the tail
    is at most |term| · q / (1 - q). Raises ArithmeticError when the term budget runs out.
    """
    term = 1.0
    total = 1.0
    magnitude = 1.0
    settled_after = math.ceil(max(abs(a), abs(b), abs(c))) + 2
    for n in range(_SERIES_MAX_TERMS):
        term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        if term == 0.0:
            break  # a or b is a non-positive integer: the series is a polynomial, now complete
        total += term
        magnitude += abs(term)
        if n < settled_after:
            continue
        ratio = max(abs((a + n + 1) * (b + n + 1) / ((c + n + 1) * (n + 2))) * z, z)
        if ratio < 1.0 and abs(term) * ratio / (1.0 - ratio) <= _EPSILON * abs(total):
            break
    else:
        raise ArithmeticError(f"2F1({a}, {b}; {c}; {z}) series did not converge in {_SERIES_MAX_TERMS} terms")
    return _Evaluation(total, magnitude / abs(total) if total else math.inf)


def _direct(a: float, b: float, c: float, z: float) -> _Evaluation:
    return _series(a, b, c, z)


def _euler(a: float, b: float, c: float, z: float) -> _Evaluation:
    """Euler's transformation: ₂F₁(a, b; c; z) = (1 - z)^(c-a-b) · ₂F₁(c - a, c - b; c; z)."""
    inner = _series(c - a, c - b, c, z)
    return _Evaluation(math.pow(1.0 - z, c - a - b) * inner.value, inner.condition)


def _connection(a: float, b: float, c: float, z: float) -> _Evaluation:
    """The connection formula to 1 - z (A&S 15.3.6), for c - a - b not an integer (see hyp2f1)."""
    gap = c - a - b
    if abs(gap - round(gap)) < _CONNECTION_MIN_GAP:
        raise ArithmeticError(f"2F1({a}, {b}; {c}; {z}): c - a - b is (nearly) an integer")
    w = 1.0 - z
    total = 0.0
    magnitude = 0.0
    for coefficient, factor, inner_args in (
        (_gamma_quotient((c, gap), (c - a, c - b)), 1.0, (a, b, 1.0 - gap)),
        (_gamma_quotient((c, -gap), (a, b)), math.pow(w, gap), (c - a, c - b, 1.0 + gap)),
    ):
        if coefficient == 0.0:
            continue
        inner = _series(*inner_args, w)
        part = coefficient * factor * inner.value
        total += part
        magnitude += abs(part) * inner.condition
    return _Evaluation(total, magnitude / abs(total) if total else math.inf)


def hyp2f1(a: float, b: float, c: float, z: float) -> float:
    """Gauss's hypergeometric function ₂F₁(a, b; c; z) for real parameters and 0 ≤ z < 1.

        ₂F₁(a, b; c; z) = Σ_n (a)_n (b)_n / ((c)_n n!) · zⁿ

    Three equivalent forms, tried in order until one is well conditioned (Σ|terms| / |sum| ≤ 1e4,
    at least 12 good digits):

    * the series above; term n behaves like n^(a+b-c-1) · zⁿ;
    * Euler's transformation (1 - z)^(c-a-b) · ₂F₁(c - a, c - b; c; z), whose terms behave like
      n^(c-a-b-1) · zⁿ, so it is tried first when a + b - c > 0 (where the direct terms grow
      polynomially before they decay and the value blows up like (1 - z)^(c-a-b));
    * above z = 0.9, where a series needs ~ln ε / ln z terms (37,000 at z = 0.999), first the
      connection formula to 1 - z (Abramowitz & Stegun 15.3.6; DLMF 15.8.4):

        ₂F₁(a, b; c; z) = Γ(c) Γ(c-a-b) / (Γ(c-a) Γ(c-b)) · ₂F₁(a, b; a+b-c+1; 1-z)
                        + (1-z)^(c-a-b) · Γ(c) Γ(a+b-c) / (Γ(a) Γ(b)) · ₂F₁(c-a, c-b; c-a-b+1; 1-z)

      whose series in 1 - z < 0.1 converge in a few dozen terms. It is singular when c - a - b is
      an integer (the limit has logarithmic terms, A&S 15.3.10-12), so within 1e-3 of one the
      series forms are used instead.

    Convergence guard: when no form is well conditioned the best one is returned if it keeps 8
    digits; otherwise, or when every series exhausts its 200,000-term budget (z above about
    0.9998 with c - a - b an integer), ArithmeticError is raised rather than a wrong number.

    Known answers: ₂F₁(1, 1; 2; z) = -ln(1 - z) / z; ₂F₁(a, b; b; z) = (1 - z)^-a;
    ₂F₁(½, ½; 3/2; z²) = arcsin(z) / z.
    """
    for name, value in (("a", a), ("b", b), ("c", c), ("z", z)):
        if not math.isfinite(value):
            raise ValueError(f"hyp2f1: {name} must be finite, got {value}")
    if not 0.0 <= z < 1.0:
        raise ValueError(f"hyp2f1 is implemented for 0 <= z < 1, got z = {z}")
    if _is_pole(c):
        raise ValueError(f"hyp2f1 is undefined for c = {c} (a non-positive integer)")
    if z == 0.0:
        return 1.0
    # A terminating series is a polynomial: exact in a bounded number of terms, so it goes first.
    euler_first = _is_pole(c - a) or _is_pole(c - b) or (a + b - c > 0 and not (_is_pole(a) or _is_pole(b)))
    forms = [_euler, _direct] if euler_first else [_direct, _euler]
    if z > _CONNECTION_MIN_Z:
        forms.insert(0, _connection)
    best: _Evaluation | None = None
    failures: list[str] = []
    for form in forms:
        try:
            evaluation = form(a, b, c, z)
        except (ArithmeticError, ValueError) as exc:  # ValueError: a math domain error in lgamma
            failures.append(str(exc))
            continue
        if evaluation.condition <= _GOOD_CONDITION:
            return evaluation.value
        if best is None or evaluation.condition < best.condition:
            best = evaluation
    if best is not None and best.condition <= _WORST_CONDITION:
        return best.value
    reason = "; ".join(failures) or f"condition {best.condition if best else math.inf:.1e}"
    raise ArithmeticError(f"2F1({a}, {b}; {c}; {z}) cannot be evaluated to 8 digits: {reason}")


def _check_history(x: int, t_x: float, T: float) -> None:
    if x < 0:
        raise ValueError(f"x (repeat events) must be non-negative, got {x}")
    if not (math.isfinite(t_x) and math.isfinite(T) and 0.0 <= t_x <= T):
        raise ValueError(f"need 0 <= t_x <= T, got t_x = {t_x}, T = {T}")


def _logistic(v: float) -> float:
    """1 / (1 + exp(-v)) without overflow for any finite v."""
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def p_alive(x: int, t_x: float, T: float, params: BgNbdParams = CDNOW_BGNBD) -> float:
    """P(alive | x, t_x, T) = 1 / (1 + [a / (b + x - 1)] · ((alpha + T) / (alpha + t_x))^(r + x)), 1 if x = 0.

    Evaluated as a logistic of -[(r + x) ln((alpha + T) / (alpha + t_x)) + ln(a / (b + x - 1))], so a heavy
    history (x in the hundreds) does not overflow the power.
    """
    _check_history(x, t_x, T)
    if x == 0:
        return 1.0
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_odds_dead = (r + x) * (math.log(alpha + T) - math.log(alpha + t_x)) + math.log(a / (b + x - 1))
    return _logistic(-log_odds_dead)


def expected_transactions(t: float, x: int, t_x: float, T: float, params: BgNbdParams = CDNOW_BGNBD) -> float:
    """E[Y(t) | x, t_x, T]: expected events in (T, T + t], lifetimes'
    ``conditional_expected_number_of_purchases_up_to_time`` (Fader, Hardie & Lee 2005, eq. 10):

        E = (a + b + x - 1) / (a - 1) · [1 - (1 - z)^(r + x) · ₂F₁(r + x, b + x; a + b + x - 1; z)]
            / (1 + [x > 0] · a / (b + x - 1) · ((alpha + T) / (alpha + t_x))^(r + x))
        z = t / (alpha + T + t)

    The denominator's reciprocal is :func:`p_alive`, and by Euler's transformation
    (1 - z)^(r + x) · ₂F₁(r + x, b + x; c; z) = (1 - z)^(a - 1) · ₂F₁(a + b - 1 - r, a - 1; c; z) with
    c = a + b + x - 1. Whenever a < 1 + r + x (every x for CDNOW) the right-hand series converges
    even at z = 1 and stays bounded, where the left one grows like (1 - z)^-(r + x); lifetimes
    switches to the same form when its value overflows. a = 1 is a removable singularity this form
    does not handle.
    """
    _check_history(x, t_x, T)
    if not (math.isfinite(t) and t >= 0):
        raise ValueError(f"t must be a non-negative number, got {t}")
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if a == 1.0:
        raise ValueError("expected_transactions needs a != 1 (the formula's removable singularity)")
    if t == 0:
        return 0.0
    c = a + b + x - 1
    z = t / (alpha + T + t)
    survival_ratio = (alpha + T) / (alpha + T + t)  # 1 - z, without the rounding of the subtraction
    bracket = 1.0 - math.pow(survival_ratio, a - 1) * hyp2f1(a + b - 1 - r, a - 1, c, z)
    # Both factors are negative when a < 1 (as in CDNOW); the product is the expectation, and
    # max(0, ·) only absorbs rounding when t is tiny.
    return max(0.0, c / (a - 1) * bracket * p_alive(x, t_x, T, params))


def prob_any_event(t: float, x: int, t_x: float, T: float, params: BgNbdParams = CDNOW_BGNBD) -> float:
    """P(≥1 event in (T, T + t]) ≈ P(alive) · [1 - ((alpha + T) / (alpha + T + t))^(r + x)].

    An alive contact's event rate has the Gamma(r + x, alpha + T) posterior, whose Poisson mixture
    puts probability ((alpha + T) / (alpha + T + t))^(r + x) on no event in t (notes §5.2). Death inside
    the window is ignored, which slightly overstates the probability for long horizons.
    """
    _check_history(x, t_x, T)
    if not (math.isfinite(t) and t >= 0):
        raise ValueError(f"t must be a non-negative number, got {t}")
    r, alpha = params.r, params.alpha
    none_if_alive = math.exp(-(r + x) * math.log1p(t / (alpha + T)))
    return p_alive(x, t_x, T, params) * (1.0 - none_if_alive)


def smoothed_rate(k: int, n: int, prior_mean: float, prior_strength: float) -> float:
    """Beta-Binomial posterior mean of a rate: (a0 + k) / (a0 + b0 + n), a0 = mean · strength,
    b0 = (1 - mean) · strength. ``strength`` is the prior's weight in pseudo-trials, so a contact's
    own k of n dominates only once n is large against it. Mean 0.05, strength 20: 1/1 → 0.0952,
    5/20 → 0.15, 20/100 → 0.175, 0/0 → 0.05.
    """
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k = {k}, n = {n}")
    if not 0.0 < prior_mean < 1.0:
        raise ValueError(f"prior_mean must be within (0, 1), got {prior_mean}")
    if not (math.isfinite(prior_strength) and prior_strength > 0):
        raise ValueError(f"prior_strength must be a positive number, got {prior_strength}")
    alpha0 = prior_mean * prior_strength
    beta0 = (1.0 - prior_mean) * prior_strength
    return (alpha0 + k) / (alpha0 + beta0 + n)


@dataclass(frozen=True)
class ProbabilityConfig:
    bgnbd: BgNbdParams = CDNOW_BGNBD
    horizon_days: float = 30.0
    min_engagement_events: int = 2
    """Below this BG/NBD has no repeat event to learn from (P(alive) would be 1 regardless)."""
    conversion_prior_mean: float = 0.05
    conversion_prior_strength: float = 20.0
    bgnbd_model: str = CDNOW_MODEL
    """The version of ``bgnbd`` that answers name: ``prior:...`` or ``bgnbd@<fit instant>``
    (``domain.models``). Carried with the parameters so a number never names the wrong model."""
    conversion_prior_model: str = DEFAULT_CONVERSION_PRIOR_MODEL
    """Likewise for the conversion prior: ``prior:...`` or ``beta@<fit instant>``."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.horizon_days) and self.horizon_days > 0):
            raise ValueError(f"horizon_days must be a positive number, got {self.horizon_days}")
        if self.min_engagement_events < 1:
            raise ValueError(f"min_engagement_events must be at least 1, got {self.min_engagement_events}")
        # Validated here too so a bad prior fails at configuration time, not on the first contact.
        smoothed_rate(0, 0, self.conversion_prior_mean, self.conversion_prior_strength)


DEFAULT_PROBABILITY_CONFIG = ProbabilityConfig()

ProbabilityStatus = Literal["ok", "insufficient_data"]


@dataclass(frozen=True)
class Probability:
    status: ProbabilityStatus
    value: float | None
    """In [0, 1] when ``status`` is ok, else None."""
    horizon_days: float | None
    """The window the probability is about; None for a state now (churn risk)."""
    basis: str
    """What the number rests on, or why there is none, in a few words."""
    model: str = CDNOW_MODEL
    """The model version it is computed with (or would be, with enough data); a conversion names
    both models it rests on, ``<bgnbd>+<conversion prior>``."""


@dataclass(frozen=True)
class ContactProbabilities:
    engagement: Probability
    """P(at least one engagement event within the horizon)."""
    conversion: Probability
    """P(at least one conversion within the horizon)."""
    churn_risk: Probability
    """1 - P(alive) now."""


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def contact_probabilities(
    state: ContactState, at_ms: int, config: ProbabilityConfig = DEFAULT_PROBABILITY_CONFIG
) -> ContactProbabilities:
    """Engagement, conversion and churn probabilities for one contact at ``at_ms``.

    BG/NBD inputs, in the fit's time unit: x = engagement_count - 1 (the first engagement is the
    "birth"), t_x = last - first engagement, T = at - first engagement, at least t_x (an ``at``
    before the last engagement is read as "just after it", since the aggregate already holds it).

        engagement = prob_any_event(horizon, x, t_x, T)
        churn_risk = 1 - p_alive(x, t_x, T)
        conversion = 1 - exp(-p̂ · E[Y(horizon) | x, t_x, T]),   p̂ = smoothed_rate(conversions, engagements)

    Conversion is a Poisson approximation: each expected engagement converts independently with
    the smoothed rate, so conversions in the window are roughly Poisson with mean p̂ · E[Y]. All
    three are ``insufficient_data`` below ``min_engagement_events``. Suppression is not applied:
    these describe behaviour, and whether to message is the caller's decision.
    """
    horizon = config.horizon_days
    bgnbd_model = config.bgnbd_model
    conversion_model = f"{config.bgnbd_model}+{config.conversion_prior_model}"
    count = state.engagement_count
    first = state.first_engagement_ms
    last = state.last_engagement_ms
    if count < config.min_engagement_events or first is None or last is None:
        basis = f"needs at least {_plural(config.min_engagement_events, 'engagement event')}; has {count}"
        return ContactProbabilities(
            engagement=Probability("insufficient_data", None, horizon, basis, bgnbd_model),
            conversion=Probability("insufficient_data", None, horizon, basis, conversion_model),
            churn_risk=Probability("insufficient_data", None, None, basis, bgnbd_model),
        )
    params = config.bgnbd
    unit_ms = params.time_unit_days * MS_PER_DAY
    t_x = (last - first) / unit_ms
    T = max(t_x, (at_ms - first) / unit_ms)
    x = count - 1
    t = horizon / params.time_unit_days
    history = f"{_plural(count, 'engagement event')} over {T * params.time_unit_days / 7:.1f} weeks"

    engagement = prob_any_event(t, x, t_x, T, params)
    alive = p_alive(x, t_x, T, params)
    conversions = state.counts.get(EventType.CONVERTED, 0)
    rate = smoothed_rate(conversions, count, config.conversion_prior_mean, config.conversion_prior_strength)
    expected = expected_transactions(t, x, t_x, T, params)
    conversion = -math.expm1(-rate * expected)
    idle_weeks = (T - t_x) * params.time_unit_days / 7
    return ContactProbabilities(
        engagement=Probability("ok", engagement, horizon, history, bgnbd_model),
        conversion=Probability(
            "ok",
            conversion,
            horizon,
            f"{_plural(conversions, 'conversion')} in {_plural(count, 'engagement event')}, "
            f"smoothed rate {rate:.3f}; {expected:.2f} engagements expected",
            conversion_model,
        ),
        churn_risk=Probability(
            "ok", 1.0 - alive, None, f"{history}; last {idle_weeks:.1f} weeks ago", bgnbd_model
        ),
    )
