"""What a sample of reviewed cases can and cannot show: exact (Clopper–Pearson) bounds.

With ``n`` cases reviewed and ``d`` deviations (avvikelser) found, the one-sided upper
confidence bound ``U`` is the largest error rate that still makes "``d`` or fewer
deviations" reasonably likely: ``P(X <= d | n, U) = 1 - confidence`` for ``X ~ Bin(n, U)``,
which equals the beta quantile ``Beta.ppf(confidence, d + 1, n - d)`` (Clopper & Pearson
1934). For ``d = 0`` it is ``1 - (1 - confidence) ** (1 / n)``: 11.7 % for n = 24.

Pure functions with NumPy/SciPy; no Flask, no database. User-facing text is Swedish.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

from kontroll.core.swedish import number

__all__ = [
    "clopper_pearson_interval",
    "clopper_pearson_upper",
    "plain_swedish_bound",
    "required_sample_size",
]

# Upper limit for required_sample_size: far beyond any case load, keeps the search finite.
_MAX_SAMPLE_SIZE = 10_000_000


def _check_counts(n: object, d: object) -> tuple[int, int]:
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise ValueError("Antalet granskade ärenden måste vara ett heltal.")
    if isinstance(d, bool) or not isinstance(d, Integral):
        raise ValueError("Antalet avvikelser måste vara ett heltal.")
    n, d = int(n), int(d)
    if n < 0:
        raise ValueError("Antalet granskade ärenden kan inte vara negativt.")
    if d < 0:
        raise ValueError("Antalet avvikelser kan inte vara negativt.")
    if d > n:
        raise ValueError("Antalet avvikelser kan inte vara större än antalet granskade ärenden.")
    return n, d


def _check_level(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{what} måste vara ett tal mellan 0 och 1.")
    value = float(value)
    if not 0.0 < value < 1.0:  # also refuses NaN
        raise ValueError(f"{what} måste vara större än 0 och mindre än 1 (t.ex. 0,95).")
    return value


def clopper_pearson_upper(n: int, d: int, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound for the deviation rate.

    ``beta.ppf(confidence, d + 1, n - d)``; 1.0 when ``d == n`` (including ``n == 0``:
    nothing reviewed shows nothing).
    """
    n, d = _check_counts(n, d)
    confidence = _check_level(confidence, "Säkerheten (konfidensgraden)")
    if d == n:
        return 1.0
    if d == 0:
        # closed form, exact to the last bit: 1 - alpha**(1/n)
        return -math.expm1(math.log1p(-confidence) / n)
    from scipy.stats import (
        beta,  # imported here: scipy.stats costs ~2 s at every process start
    )

    return float(beta.ppf(confidence, d + 1, n - d))


def clopper_pearson_interval(n: int, d: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided (equal-tailed) Clopper–Pearson interval ``(lo, hi)``.

    ``lo = beta.ppf(alpha/2, d, n - d + 1)`` (0 when ``d == 0``),
    ``hi = beta.ppf(1 - alpha/2, d + 1, n - d)`` (1 when ``d == n``),
    with ``alpha = 1 - confidence``. ``n == 0`` gives ``(0.0, 1.0)``.
    """
    n, d = _check_counts(n, d)
    confidence = _check_level(confidence, "Säkerheten (konfidensgraden)")
    alpha = 1.0 - confidence
    from scipy.stats import beta

    lo = 0.0 if d == 0 else float(beta.ppf(alpha / 2, d, n - d + 1))
    hi = 1.0 if d == n else float(beta.ppf(1 - alpha / 2, d + 1, n - d))
    return lo, hi


def required_sample_size(
    tolerable_rate: float, confidence: float = 0.95, expected_deviations: int = 0
) -> int:
    """Smallest ``n`` whose upper bound with ``expected_deviations`` deviations is below
    ``tolerable_rate``: ``clopper_pearson_upper(n, d, confidence) < tolerable_rate``.

    5 % at 95 % with none found -> 59; 10 % -> 29.
    """
    rate = _check_level(tolerable_rate, "Den tolerabla felandelen")
    confidence = _check_level(confidence, "Säkerheten (konfidensgraden)")
    if isinstance(expected_deviations, bool) or not isinstance(expected_deviations, Integral):
        raise ValueError("Antalet förväntade avvikelser måste vara ett heltal.")
    d = int(expected_deviations)
    if d < 0:
        raise ValueError("Antalet förväntade avvikelser kan inte vara negativt.")

    def ok(n: int) -> bool:
        return clopper_pearson_upper(n, d, confidence) < rate

    # The bound falls as n grows (d fixed), so search: double, then bisect.
    lo, hi = d, max(d + 1, 1)  # bound at n = d is 1.0: never ok
    while not ok(hi):
        lo, hi = hi, hi * 2
        if hi > _MAX_SAMPLE_SIZE:
            raise ValueError(
                "Den tolerabla felandelen är så låg att inget rimligt stickprov räcker."
            )
    while hi - lo > 1:  # invariant: not ok(lo), ok(hi)
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


# --------------------------------------------------------------------------------------
# Plain Swedish


def _whole_percent_up(rate: float) -> int:
    """Round a rate up to a whole percent, so that "under X %" stays true.

    The product is first rounded to 9 decimals so that float noise in an exact whole
    percent (0.11 * 100 = 11.000000000000002) does not push it a whole percent up.
    """
    return math.ceil(round(rate * 100, 9))


def plain_swedish_bound(n: int, d: int, confidence: float = 0.95) -> str:
    """One sentence for a nämnd: what the reviewed sample shows about the error rate.

    "Med 24 granskade ärenden och inga avvikelser kan vi med 95 % säkerhet säga att
    felandelen är under 12 %." The percentage is the one-sided Clopper–Pearson upper bound
    rounded up to a whole percent.
    """
    n, d = _check_counts(n, d)
    level = number(_check_level(confidence, "Säkerheten (konfidensgraden)") * 100, 2, trim=True)
    if n == 0:
        return "Inga ärenden granskade – ingen slutsats kan dras."
    reviewed = "ett granskat ärende" if n == 1 else f"{number(n)} granskade ärenden"
    if d == 0:
        found = "inga avvikelser"
    elif d == 1:
        found = "en avvikelse"
    else:
        found = f"{number(d)} avvikelser"
    if d == n:
        return (
            f"Med {reviewed} och {found} går det inte att säga att felandelen är "
            "lägre än 100 %."
        )
    bound = _whole_percent_up(clopper_pearson_upper(n, d, confidence))
    if bound >= 100:
        return (
            f"Med {reviewed} och {found} kan vi med {level} % säkerhet inte utesluta "
            "att felandelen är nära 100 %."
        )
    return (
        f"Med {reviewed} och {found} kan vi med {level} % säkerhet säga att "
        f"felandelen är under {bound} %."
    )
