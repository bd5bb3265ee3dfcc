"""Tests for the Clopper–Pearson bounds and the plain-Swedish sentence.

Reference values. The one-sided upper bound U for d deviations in n cases is defined by
P(X <= d | X ~ Bin(n, U)) = 1 - confidence (Clopper, C. J. & Pearson, E. S. (1934), "The
use of confidence or fiducial limits illustrated in the case of the binomial", Biometrika
26(4), 404–413). It is the procedure behind R's ``binom.test`` confidence interval (R
documentation, ``?binom.test``, "Details"), so ``binom.test(5, 100, alternative = "less")``
reports the same upper limit. For n = 100, d = 5 at 95 % the value is 0.1022534 (to 7
decimals; 0.1023 to 4). It is checked here WITHOUT SciPy: exact rational arithmetic shows
that the binomial tail crosses 0.05 between 0.10225335 and 0.10225345. (The figure 0.1019
that is sometimes quoted for this case does not satisfy the definition: the tail at 0.1019
is 0.0511.)
For d = 0 the bound is 1 - (1 - confidence)**(1/n); n = 24 gives 0.117346 (11.7 %, as in
the domain brief).
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binom

from kontroll.reports.stats import (
    clopper_pearson_interval,
    clopper_pearson_upper,
    plain_swedish_bound,
    required_sample_size,
)


def exact_binomial_cdf(d: int, n: int, p: Fraction) -> Fraction:
    return sum(comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(d + 1))


# --------------------------------------------------------------------------------------
# Upper bound


def test_n24_d0():
    assert round(clopper_pearson_upper(24, 0), 4) == 0.1173
    assert clopper_pearson_upper(24, 0) == pytest.approx(0.117346, abs=1e-6)


def test_59_is_the_first_n_below_five_percent():
    assert clopper_pearson_upper(59, 0) < 0.05
    assert clopper_pearson_upper(58, 0) > 0.05


@pytest.mark.parametrize("n", [1, 2, 5, 12, 24, 58, 59, 100, 1000, 123_456])
@pytest.mark.parametrize("confidence", [0.80, 0.90, 0.95, 0.99])
def test_d0_identity(n, confidence):
    expected = 1 - (1 - confidence) ** (1 / n)
    assert clopper_pearson_upper(n, 0, confidence) == pytest.approx(expected, rel=1e-12)


def test_d0_closed_form_agrees_with_beta_quantile():
    from scipy.stats import beta

    for n in (1, 7, 24, 59, 500):
        assert clopper_pearson_upper(n, 0) == pytest.approx(beta.ppf(0.95, 1, n), rel=1e-12)


def test_n100_d5_reference_value():
    upper = clopper_pearson_upper(100, 5)
    assert round(upper, 4) == 0.1023
    assert upper == pytest.approx(0.1022534, abs=5e-8)


def test_n100_d5_reference_value_without_scipy():
    """The definition, in exact rational arithmetic: the tail crosses 0.05 at 0.1022534."""
    below = exact_binomial_cdf(5, 100, Fraction("0.10225335"))
    above = exact_binomial_cdf(5, 100, Fraction("0.10225345"))
    assert below > Fraction(1, 20) > above
    assert exact_binomial_cdf(5, 100, Fraction("0.1019")) > Fraction("0.051")


@given(n=st.integers(1, 400), data=st.data(), confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_upper_bound_satisfies_definition(n, data, confidence):
    d = data.draw(st.integers(0, n - 1))
    upper = clopper_pearson_upper(n, d, confidence)
    assert d / n < upper < 1
    assert binom.cdf(d, n, upper) == pytest.approx(1 - confidence, abs=1e-9)


@given(n=st.integers(1, 300), data=st.data())
def test_upper_bound_monotone(n, data):
    d = data.draw(st.integers(0, n - 1))
    assert clopper_pearson_upper(n + 1, d) < clopper_pearson_upper(n, d)
    assert clopper_pearson_upper(n, d) < clopper_pearson_upper(n, d + 1)


def test_upper_bound_edges():
    assert clopper_pearson_upper(0, 0) == 1.0
    assert clopper_pearson_upper(5, 5) == 1.0
    assert clopper_pearson_upper(1, 0) == pytest.approx(0.95)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((-1, 0), "negativt"),
        ((5, -1), "negativt"),
        ((5, 6), "större än antalet"),
        ((5.0, 0), "heltal"),
        ((5, 0.5), "heltal"),
        ((True, 0), "heltal"),
        ((5, 0, 1.0), "mindre än 1"),
        ((5, 0, 0.0), "större än 0"),
        ((5, 0, 95), "mindre än 1"),
        ((5, 0, float("nan")), "större än 0"),
        ((5, 0, "0.95"), "tal mellan"),
    ],
)
def test_upper_bound_refuses(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        clopper_pearson_upper(*args)


# --------------------------------------------------------------------------------------
# Two-sided interval


def test_interval_reference_n100_d5():
    # two-sided 95 %: binom.test(5, 100)$conf.int = 0.01643188 0.11283491 in R
    lo, hi = clopper_pearson_interval(100, 5)
    assert lo == pytest.approx(0.01643188, abs=5e-8)
    assert hi == pytest.approx(0.11283491, abs=5e-8)
    # definition: each tail has probability alpha/2
    assert binom.sf(4, 100, lo) == pytest.approx(0.025, abs=1e-9)
    assert binom.cdf(5, 100, hi) == pytest.approx(0.025, abs=1e-9)


def test_interval_edges():
    assert clopper_pearson_interval(0, 0) == (0.0, 1.0)
    lo, hi = clopper_pearson_interval(24, 0)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 24))
    lo, hi = clopper_pearson_interval(24, 24)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 24))


@given(n=st.integers(1, 300), data=st.data())
def test_interval_contains_estimate_and_is_wider_than_one_sided(n, data):
    d = data.draw(st.integers(0, n))
    lo, hi = clopper_pearson_interval(n, d, 0.90)
    assert 0 <= lo <= d / n <= hi <= 1
    # the two-sided 90 % upper limit is the one-sided 95 % upper bound
    assert hi == pytest.approx(clopper_pearson_upper(n, d, 0.95), abs=1e-12)


# --------------------------------------------------------------------------------------
# Sample-size planner


def test_required_sample_size_known_values():
    assert required_sample_size(0.05) == 59
    assert required_sample_size(0.10) == 29
    assert required_sample_size(0.05, 0.90) == 45  # 1 - 0.10**(1/45) = 0.0499
    assert required_sample_size(0.05, 0.95, 1) == 93


@given(
    rate=st.floats(0.005, 0.5),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
    d=st.integers(0, 5),
)
def test_required_sample_size_is_the_smallest(rate, confidence, d):
    n = required_sample_size(rate, confidence, d)
    assert clopper_pearson_upper(n, d, confidence) < rate
    assert n - 1 <= d or clopper_pearson_upper(n - 1, d, confidence) >= rate


@pytest.mark.parametrize(
    "args", [(0.0,), (1.0,), (-0.1,), (0.05, 1.0), (0.05, 0.95, -1), (0.05, 0.95, 1.5), ("5 %",)]
)
def test_required_sample_size_refuses(args):
    with pytest.raises(ValueError):
        required_sample_size(*args)


def test_required_sample_size_refuses_absurd_rate():
    with pytest.raises(ValueError, match="inget rimligt stickprov"):
        required_sample_size(1e-9)


# --------------------------------------------------------------------------------------
# Plain Swedish


def test_swedish_sentence_no_deviations():
    assert plain_swedish_bound(24, 0) == (
        "Med 24 granskade ärenden och inga avvikelser kan vi med 95 % säkerhet säga att "
        "felandelen är under 12 %."
    )


def test_swedish_sentence_one_deviation():
    # upper bound 0.1829 -> 19 %
    assert plain_swedish_bound(24, 1) == (
        "Med 24 granskade ärenden och en avvikelse kan vi med 95 % säkerhet säga att "
        "felandelen är under 19 %."
    )


def test_swedish_sentence_several_deviations():
    # 100 cases, 5 deviations: 0.1023 -> rounded UP to 11 %
    assert plain_swedish_bound(100, 5) == (
        "Med 100 granskade ärenden och 5 avvikelser kan vi med 95 % säkerhet säga att "
        "felandelen är under 11 %."
    )


def test_swedish_sentence_59_cases():
    assert plain_swedish_bound(59, 0).endswith("under 5 %.")
    assert plain_swedish_bound(58, 0).endswith("under 6 %.")  # 5.04 % rounds up


def test_swedish_sentence_nothing_reviewed():
    assert plain_swedish_bound(0, 0) == "Inga ärenden granskade – ingen slutsats kan dras."


def test_swedish_sentence_decimal_comma_and_singular():
    assert plain_swedish_bound(1, 0, 0.975) == (
        "Med ett granskat ärende och inga avvikelser kan vi med 97,5 % säkerhet säga att "
        "felandelen är under 98 %."
    )
    assert "med 90 % säkerhet" in plain_swedish_bound(24, 0, 0.9)
    assert "med 99,9 % säkerhet" in plain_swedish_bound(5000, 0, 0.999)


def test_swedish_sentence_bound_rounds_to_100():
    # 9 of 10: upper bound 0.95**(1/10) = 0.9949 -> 100 %
    assert plain_swedish_bound(10, 9) == (
        "Med 10 granskade ärenden och 9 avvikelser kan vi med 95 % säkerhet inte utesluta "
        "att felandelen är nära 100 %."
    )


def test_swedish_sentence_all_deviations():
    assert plain_swedish_bound(3, 3) == (
        "Med 3 granskade ärenden och 3 avvikelser går det inte att säga att felandelen är "
        "lägre än 100 %."
    )


def test_swedish_sentence_large_numbers_grouped():
    text = plain_swedish_bound(12_000, 1_500)
    assert text.startswith("Med 12\u00a0000 granskade ärenden och 1\u00a0500 avvikelser")


@given(n=st.integers(1, 2000), data=st.data(), confidence=st.sampled_from([0.9, 0.95, 0.99]))
def test_swedish_percentage_is_never_below_the_bound(n, data, confidence):
    """Rounding up keeps the sentence true: the stated percentage >= the exact bound."""
    d = data.draw(st.integers(0, n - 1))
    text = plain_swedish_bound(n, d, confidence)
    if text.endswith("nära 100 %."):
        assert clopper_pearson_upper(n, d, confidence) > 0.99
        return
    stated = int(text.rsplit("under ", 1)[1].split(" %")[0])
    upper = clopper_pearson_upper(n, d, confidence)
    assert stated >= upper * 100 - 1e-7
    assert stated - 1 < upper * 100


def test_swedish_sentence_refuses_bad_input():
    with pytest.raises(ValueError):
        plain_swedish_bound(5, 6)
    with pytest.raises(ValueError):
        plain_swedish_bound(5, 1, 1.5)
