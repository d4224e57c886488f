"""Data surge (流量突增): hand-computed days for each rule — the customer's own median, too little history, a
zero median, the 80 %/100 % crossings on the crossing day only, a data card, no allowance — the thresholds
as parameters, and the vectorised answer equal to the scalar reference on random windows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onboard90.usage.surge import SurgeThresholds, surge_one, surges

WEEK = [10, 12, 8, 20, 10, 15, 11]  # median 11


DEFAULT = SurgeThresholds()


def one(window, today, *, month_before=0, allowance=0, thresholds=DEFAULT):
    """The vectorised answer for one customer (NaN for a day not held), checked against the reference."""
    result = surges(
        window=np.array([[math.nan if d is None else d for d in window]], dtype=float) if window else np.zeros((1, 0)),
        today=[today], month_before=[month_before], allowance=[allowance], thresholds=thresholds,
    )  # fmt: skip
    reference = surge_one(
        window=window, today=today, month_before=month_before, allowance=allowance, thresholds=thresholds
    )
    crossed = tuple(p for p, hit in zip(result.percents, result.crossed[0], strict=True) if hit)
    assert (bool(result.day_surge[0]), crossed) == (reference.day_surge, reference.crossed)
    return reference


def test_a_day_over_three_times_the_customer_s_own_median_and_over_50_mb_is_a_surge():
    assert not one(WEEK, 34).day_surge  # over 3 × 11 but not over 50 MB
    assert one(WEEK, 51).day_surge  # over both
    heavy = [100, 120, 90, 110, 100, 130, 105]  # median 105: 315 is exactly 3×, not more
    assert not one(heavy, 315).day_surge
    assert one(heavy, 316).day_surge


def test_the_median_is_of_the_days_held_and_needs_seven_of_them():
    six = [10, 12, 8, 20, 10, 15]
    assert one(six, 500).median is None and not one(six, 500).day_surge  # six days: too little history
    gappy = [10, None, 12, None, 8, 20, None, 10, 15, 11]  # seven days held among ten: median 11
    assert one(gappy, 51).median == 11 and one(gappy, 51).day_surge
    assert not one([], 500).day_surge  # no history at all: a new customer
    even = [*WEEK, 30]  # eight days: median (11 + 12) / 2 = 11.5, 3× = 34.5
    assert one(even, 51).median == 11.5


def test_an_even_count_of_days_is_judged_on_the_mean_of_the_two_middle_days():
    # Eight days with the two middle ones 20 and 40 (median 30, 3× = 90): one middle day is under a third of
    # the day and the other not, so only their sum decides.
    days = [5, 6, 7, 20, 40, 41, 42, 43]
    assert not one(days, 90).day_surge  # exactly 3×, not more
    assert one(days, 91).day_surge
    odd = [5, 6, 7, 20, 40, 41, 42]  # seven days: median 20
    assert not one(odd, 60).day_surge and one(odd, 61).day_surge


def test_a_zero_median_makes_any_day_over_50_mb_a_surge():
    idle = [0, 0, 0, 0, 0, 0, 0]
    assert not one(idle, 50).day_surge
    assert one(idle, 51).day_surge


def test_the_month_crossing_fires_on_the_crossing_day_only():
    # A 300 MB allowance: 80 % is 240 MB, 100 % is 300 MB.
    assert one([], 10, month_before=229, allowance=300).crossed == ()  # 239: not yet
    assert one([], 11, month_before=229, allowance=300).crossed == (80,)  # 240: crossed today
    assert one([], 5, month_before=240, allowance=300).crossed == ()  # crossed before: not again
    assert one([], 100, month_before=230, allowance=300).crossed == (80, 100)  # both in one day
    assert one([], 60, month_before=240, allowance=300).crossed == (100,)


def test_a_data_card_s_allowance_is_crossed_as_any_other_and_no_allowance_never_fires():
    card = 3072  # a 3 GB data card: 80 % is 2457.6 MB, crossed at 2458
    assert one([], 2, month_before=2456, allowance=card).crossed == (80,)
    assert one([], 1, month_before=2456, allowance=card).crossed == ()
    # No data included (every MB out of package) or unlimited: nothing to cross, however much is used.
    assert one([], 9000, month_before=100_000, allowance=0).crossed == ()


def test_the_thresholds_are_parameters():
    strict = SurgeThresholds(multiple=2, min_mb=20, min_days=3, month_percents=(50, 90))
    assert one([10, 10, 10], 21, thresholds=strict).day_surge
    assert one([], 1, month_before=49, allowance=100, thresholds=strict).crossed == (50,)
    for bad in ({"min_days": 0}, {"multiple": -1}, {"multiple": 1001}, {"month_percents": (100, 80)}, {"month_percents": (0,)}):
        with pytest.raises(ValueError):
            SurgeThresholds(**bad)


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="negative"):
        surges(window=[[1, 2]], today=[-1], month_before=[0], allowance=[0])
    one_day = SurgeThresholds(min_days=1)  # the window is read, and checked, where a day can surge
    with pytest.raises(ValueError, match="negative"):
        surges(thresholds=one_day, window=[[1, -2]], today=[60], month_before=[0], allowance=[0])
    with pytest.raises(ValueError, match="out of range"):
        surges(thresholds=one_day, window=[[1, 2**31]], today=[60], month_before=[0], allowance=[0])
    with pytest.raises(ValueError, match="shapes"):
        surges(window=[[1, 2]], today=[1, 2], month_before=[0], allowance=[0])
    with pytest.raises(ValueError, match="2-D"):
        surges(window=[1, 2], today=[1], month_before=[0], allowance=[0])


@settings(max_examples=80, deadline=None)
@given(
    data=st.data(),
    customers=st.integers(1, 8),
    days=st.integers(0, 12),
    multiple=st.integers(1, 4),
    min_mb=st.integers(0, 60),
    min_days=st.integers(1, 8),
)
def test_the_vectorised_answer_is_the_scalar_reference(data, customers, days, multiple, min_mb, min_days):
    mb = st.integers(0, 400)
    windows = data.draw(st.lists(st.lists(st.one_of(st.none(), mb), min_size=days, max_size=days),
                                 min_size=customers, max_size=customers))  # fmt: skip
    today = data.draw(st.lists(mb, min_size=customers, max_size=customers))
    before = data.draw(st.lists(st.integers(0, 1500), min_size=customers, max_size=customers))
    allowance = data.draw(st.lists(st.sampled_from([0, 100, 300, 1024, 3072]), min_size=customers,
                                   max_size=customers))  # fmt: skip
    thresholds = SurgeThresholds(multiple=multiple, min_mb=min_mb, min_days=min_days)
    held = np.array([[d is not None for d in w] for w in windows], dtype=bool).reshape(customers, days)
    values = np.array([[d or 0 for d in w] for w in windows], dtype=np.int64).reshape(customers, days)

    result = surges(window=values, held=held, today=today, month_before=before, allowance=allowance,
                    thresholds=thresholds)  # fmt: skip

    for c in range(customers):
        expected = surge_one(window=windows[c], today=today[c], month_before=before[c], allowance=allowance[c],
                             thresholds=thresholds)  # fmt: skip
        crossed = tuple(p for p, hit in zip(result.percents, result.crossed[c], strict=True) if hit)
        assert (bool(result.day_surge[c]), crossed) == (expected.day_surge, expected.crossed)
        if result.any[c]:  # the median is computed for the customers with an alert: the alert records it
            median = None if math.isnan(result.median[c]) else float(result.median[c])
            assert median == expected.median
        else:
            assert math.isnan(result.median[c])
        if today[c] > min_mb or crossed:  # the window is read where a rule can fire
            assert result.held[c] == sum(d is not None for d in windows[c])
