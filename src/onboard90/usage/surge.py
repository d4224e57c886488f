"""流量突增 (data surge): which of the data-use thresholds a customer's day fires.

Plain Python and NumPy, no Django (a test keeps it so), like `usage.fit`: the daily cycle reads the day rows
of the surge window and the month rows, and asks this module, for every customer at once, which alerts
today's use sets off; `surge_one` is the scalar reference the vectorised answer is tested against.

The rules (thresholds are parameters: the playbook's `data_surge`, read by the cycle's alert step `journeys.surge_acts`):

* **day surge** (单日流量突增): today's MB is more than `multiple` (3) times the customer's own median over
  the previous days held in the window AND more than `min_mb` (50 MB). The median is of the days held (a
  day with no row is not a day of zero use: it is unknown), and only when at least `min_days` (7) days are
  held — fewer say too little about the customer's own habit, so a customer new to the network gets no
  day-surge alert in their first week. A median of 0 (a customer who never used data) makes any day over
  `min_mb` a surge: that is the customer the plan's notice is for.
* **month crossing** (当月流量达到套餐的80%、100%): for each percent of `month_percents`, the month-to-date MB
  crosses that share of the package's data allowance today: before < share <= after, where before is the
  month up to yesterday and after adds today. Only the crossing day fires (one SMS per threshold per
  month; whoever sends keeps that). Exact in integers: before × 100 < percent × allowance <= after × 100.
  An allowance of 0 — a package with no data included (every MB at the out-of-package rate) or one whose
  data is unlimited — has nothing to cross and never fires. A data card is a package like any other here:
  its (large) allowance is crossed as a phone package's is.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
# Customers worked on at a time: bounds the sorted copy of the window to a few MB whatever the province.
BLOCK_CUSTOMERS = 1 << 15
_NOT_HELD = np.iinfo(np.int32).max  # sorts after every day held (a day's MB is far below it: DAY_LIMITS)


@dataclass(frozen=True)
class SurgeThresholds:
    """When a day's data use sets off an alert (whole numbers, so the tests are exact)."""

    multiple: int = 3
    min_mb: int = 50
    min_days: int = 7
    month_percents: tuple[int, ...] = (80, 100)

    def __post_init__(self) -> None:
        for name in ("multiple", "min_mb", "min_days"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < (1 if name == "min_days" else 0)
            ):
                raise ValueError(f"{name} 须为非负整数 / must be a whole number >= 0: {value!r}")
        if self.multiple > 1000:  # keeps multiple × MB inside int64 whatever the day's use
            raise ValueError(f"multiple 须不超过1000 / must be at most 1000: {self.multiple!r}")
        percents = self.month_percents
        if any(isinstance(p, bool) or not isinstance(p, int) or not 0 < p <= 1000 for p in percents):
            raise ValueError(f"month_percents 须为1到1000的整数 / whole percents 1–1000: {percents!r}")
        if list(percents) != sorted(set(percents)):
            raise ValueError(f"month_percents 须递增且不重复 / increasing, no repeats: {percents!r}")


@dataclass(frozen=True)
class Surges:
    """The answer for C customers: `day_surge` (C,); `median` (C,: the median of the days held, which
    every alert records; NaN for the customers without an alert or with fewer than `min_days` held);
    `held` (C,: days held in the window, for the customers over `min_mb` today or crossing a month
    threshold; -1 for the others, whose window is not read); `crossed` (C, len(month_percents))."""

    day_surge: BoolArray
    median: FloatArray
    held: npt.NDArray[np.int64]
    crossed: BoolArray
    percents: tuple[int, ...]

    @property
    def any(self) -> BoolArray:
        """Customers with at least one alert today."""
        return self.day_surge | self.crossed.any(axis=1)


def _whole(value: npt.ArrayLike, name: str, ndim: int) -> npt.NDArray[np.int64]:
    """`value` as int64 MB, each in 0 ≤ MB < 2**31 (a day or a month far below it: DAY_LIMITS)."""
    return _checked(value, name, ndim).astype(np.int64, copy=False)


def _checked(value: npt.ArrayLike, name: str, ndim: int) -> npt.NDArray[np.integer]:
    """`value` as an integer array of its own width, each in 0 ≤ MB < 2**31."""
    array = np.asarray(value)
    if array.ndim != ndim:
        raise ValueError(f"{name}: 维数不符 / must have {ndim} dimension(s), not {array.ndim}")
    if array.size and array.dtype.kind not in "iu":
        raise ValueError(f"{name} 须为整数 / must be whole MB (an integer array), not {array.dtype}")
    # One pass for both bounds: read as unsigned, a negative number is larger than any bound.
    if array.size and array.view(f"u{array.dtype.itemsize}").max() >= _NOT_HELD:
        if array.min() < 0:
            raise ValueError(f"{name} 不能为负 / cannot be negative")
        raise ValueError(f"{name} 超出范围 / MB out of range")
    return array


def _medians(window: npt.NDArray[np.integer], held: BoolArray) -> FloatArray:
    """Median of the days held, per row (every row holds at least one day)."""
    values = np.where(held, window, window.dtype.type(_NOT_HELD))  # a day not held sorts after every day held
    values.sort(axis=1)
    count = np.count_nonzero(held, axis=1)
    rows = np.arange(values.shape[0])
    low = values[rows, (count - 1) // 2]
    high = values[rows, count // 2]
    return (low.astype(np.float64) + high) / 2.0  # exact: whole MB far below 2**52


def _day_surges(
    window: npt.NDArray[np.integer], held: BoolArray, count: npt.NDArray[np.int64], today: npt.NDArray[np.int64],
    multiple: int,
) -> BoolArray:
    """today > multiple × median, for rows holding at least one day, without sorting a row.

    Count the days held "below" — multiple × MB < today, i.e. MB < ⌈today / multiple⌉ in integers; with
    n = 2k + 1 days held the median is the (k+1)-th smallest, so it is below exactly when more than k days
    are; with n = 2k the median is the mean of the k-th and (k+1)-th smallest: both below (more than k
    below) surges, neither (fewer than k) does not, and only k below leaves it to the two days' sum — those
    few rows are sorted."""
    if multiple == 0:  # 0 × median < today for any today over min_mb
        return np.ones(len(today), dtype=np.bool_)
    limit = (today + multiple - 1) // multiple
    below = np.count_nonzero((window < limit[:, None].astype(window.dtype)) & held, axis=1)
    half = count // 2
    surge = below > half
    tie = np.flatnonzero((count % 2 == 0) & (below == half))
    if len(tie):
        median_x2 = (2 * _medians(window[tie], held[tie])).astype(np.int64)  # low + high, exact
        surge[tie] = multiple * median_x2 < 2 * today[tie]
    return surge


def surges(
    *,
    window: npt.ArrayLike,
    today: npt.ArrayLike,
    month_before: npt.ArrayLike,
    allowance: npt.ArrayLike,
    held: npt.ArrayLike | None = None,
    thresholds: SurgeThresholds = SurgeThresholds(),
) -> Surges:
    """The alerts of C customers' day.

    `window`: (C, D) the MB of each of the D previous days — whole numbers with `held` (C, D) bool saying
    which days have a row, or floats with NaN for a day not held; `today`: (C,) today's MB; `month_before`:
    (C,) the month's MB up to yesterday; `allowance`: (C,) the package's included MB (0: none or
    unlimited).

    Cost follows the customers who could surge: the day rule reads the window only of those over `min_mb`
    today with `min_days` held, and counts rather than sorts; the median itself is computed for the
    customers with an alert (the alert records it). The window's MB are checked (whole, 0 ≤ MB < 2**31)
    where they are read; the cycle hands over what the usage import checked."""
    raw = np.asarray(window)
    if raw.ndim != 2:
        raise ValueError("window 须为二维(客户×天) / must be 2-D: customers × days")
    if held is None:
        if raw.dtype.kind == "f":
            mask = ~np.isnan(raw)
            raw = np.where(mask, raw, 0)
            if np.any(raw != np.floor(raw)):
                raise ValueError("window 须为整数MB / must be whole MB")
            raw = raw.astype(np.int64)
        else:
            mask = np.ones(raw.shape, dtype=np.bool_)
    else:
        mask = np.asarray(held, dtype=np.bool_)
        if mask.shape != raw.shape:
            raise ValueError("held 与 window 形状不符 / held must have the window's shape")
    history = np.asarray(raw)
    if history.size and history.dtype.kind not in "iu":
        raise ValueError(f"window 须为整数 / must be whole MB (an integer array), not {history.dtype}")
    if history.dtype.itemsize < 4:  # room for the sort's marker of a day not held
        history = history.astype(np.int32)
    now, before, included = (
        _whole(today, "today", 1), _whole(month_before, "month_before", 1), _whole(allowance, "allowance", 1)
    )  # fmt: skip
    customers = history.shape[0]
    if not now.shape[0] == before.shape[0] == included.shape[0] == customers:
        raise ValueError("形状不符 / shapes: window (C, D), today/month_before/allowance (C,)")

    # Exact in integers: before × 100 < percent × allowance <= after × 100, one percent at a time. An
    # allowance of 0 never fires: before × 100 < 0 cannot hold.
    before_x100 = before * 100
    after_x100 = before + now
    after_x100 *= 100
    columns = []
    for percent in thresholds.month_percents:
        share = included * percent
        column = before_x100 < share
        column &= share <= after_x100
        columns.append(column)
    crossed = np.column_stack(columns) if columns else np.zeros((customers, 0), dtype=np.bool_)
    any_crossed = np.logical_or.reduce(columns) if columns else np.zeros(customers, dtype=np.bool_)

    # Only a day over min_mb can surge: the window is read for those customers — the heavy users' day, not
    # the province's — and its days held counted for them and the month's crossers (their alert records it).
    over = now > thresholds.min_mb
    looked = np.flatnonzero(over | any_crossed)
    count = np.full(customers, -1, dtype=np.int64)
    count[looked] = np.count_nonzero(np.take(mask, looked, axis=0), axis=1)
    judged = looked[over[looked] & (count[looked] >= thresholds.min_days)]  # too little history never surges
    day_surge = np.zeros(customers, dtype=np.bool_)
    median = np.full(customers, np.nan)
    for start in range(0, len(judged), BLOCK_CUSTOMERS):
        rows = judged[start : start + BLOCK_CUSTOMERS]
        days, days_held = _checked(np.take(history, rows, axis=0), "window", 2), np.take(mask, rows, axis=0)
        surged = _day_surges(days, days_held, count[rows], now[rows], thresholds.multiple)
        day_surge[rows[surged]] = True
        median[rows[surged]] = _medians(days[surged], days_held[surged])
    # The month's crossers keep the day's figures too: their median, where they hold enough days.
    crossers = looked[any_crossed[looked] & ~day_surge[looked] & (count[looked] >= thresholds.min_days)]
    for start in range(0, len(crossers), BLOCK_CUSTOMERS):
        rows = crossers[start : start + BLOCK_CUSTOMERS]
        median[rows] = _medians(_checked(np.take(history, rows, axis=0), "window", 2), np.take(mask, rows, axis=0))
    return Surges(day_surge, median, count, crossed, thresholds.month_percents)


@dataclass(frozen=True)
class SurgeOne:
    """The answer for one customer: the day surge, the median it was judged on (None: too few days),
    and the percents whose crossing fires today."""

    day_surge: bool
    median: float | None
    crossed: tuple[int, ...]


def surge_one(
    *,
    window: Sequence[int | None],
    today: int,
    month_before: int,
    allowance: int,
    thresholds: SurgeThresholds = SurgeThresholds(),
) -> SurgeOne:
    """The scalar reference for one customer, in plain Python: `window` the previous days' MB, None for a
    day not held."""
    days = [day for day in window if day is not None]
    median = float(statistics.median(days)) if len(days) >= thresholds.min_days else None
    day_surge = median is not None and today > thresholds.multiple * median and today > thresholds.min_mb
    after = month_before + today
    crossed = tuple(
        percent
        for percent in thresholds.month_percents
        if allowance > 0 and month_before * 100 < percent * allowance <= after * 100
    )
    return SurgeOne(day_surge, median, crossed)
