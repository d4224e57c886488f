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
        percents = self.month_percents
        if any(isinstance(p, bool) or not isinstance(p, int) or not 0 < p <= 1000 for p in percents):
            raise ValueError(f"month_percents 须为1到1000的整数 / whole percents 1–1000: {percents!r}")
        if list(percents) != sorted(set(percents)):
            raise ValueError(f"month_percents 须递增且不重复 / increasing, no repeats: {percents!r}")


@dataclass(frozen=True)
class Surges:
    """The answer for C customers: `day_surge` (C,), `median` (C,: NaN where fewer than `min_days` days are
    held), `held` (C,: days held in the window), `crossed` (C, len(month_percents))."""

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
    array = np.asarray(value)
    if array.ndim != ndim:
        raise ValueError(f"{name}: 维数不符 / must have {ndim} dimension(s), not {array.ndim}")
    if array.size and array.dtype.kind not in "iu":
        raise ValueError(f"{name} 须为整数 / must be whole MB (an integer array), not {array.dtype}")
    if array.size and array.min() < 0:
        raise ValueError(f"{name} 不能为负 / cannot be negative")
    return array.astype(np.int64, copy=False)


def _medians(
    window: npt.NDArray[np.int64], held: BoolArray, min_days: int
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Median of the days held, per row (NaN under `min_days`), and the count held."""
    if window.shape[1] == 0:  # no day in the window: no history for anyone
        return np.full(window.shape[0], np.nan), np.zeros(window.shape[0], dtype=np.int64)
    values = window.astype(np.int32)  # sorts twice as fast as int64; days are checked < 2**31 below
    values[~held] = _NOT_HELD
    values.sort(axis=1)  # the days held first, in order
    count = held.sum(axis=1)
    rows = np.arange(values.shape[0])
    low = values[rows, np.maximum(count - 1, 0) // 2]
    high = values[rows, np.minimum(count // 2, values.shape[1] - 1)]
    median = (low.astype(np.float64) + high) / 2.0  # exact: whole MB far below 2**52
    return np.where(count >= min_days, median, np.nan), count


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
    unlimited)."""
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
    history = _whole(raw, "window", 2)
    if history.size and history.max() >= _NOT_HELD:
        raise ValueError("window 超出范围 / a day's MB out of range")
    now, before, included = (
        _whole(today, "today", 1), _whole(month_before, "month_before", 1), _whole(allowance, "allowance", 1)
    )  # fmt: skip
    customers = history.shape[0]
    if not now.shape[0] == before.shape[0] == included.shape[0] == customers:
        raise ValueError("形状不符 / shapes: window (C, D), today/month_before/allowance (C,)")

    median = np.full(customers, np.nan)
    count = np.zeros(customers, dtype=np.int64)
    for start in range(0, customers, BLOCK_CUSTOMERS):
        rows = slice(start, start + BLOCK_CUSTOMERS)
        median[rows], count[rows] = _medians(history[rows], mask[rows], thresholds.min_days)
    # NaN compares False: too little history never surges.
    day_surge = (now > thresholds.multiple * median) & (now > thresholds.min_mb)

    after = before + now
    percents = np.array(thresholds.month_percents, dtype=np.int64)
    share = percents[None, :] * included[:, None]  # percent × allowance, against MB × 100
    crossed = (before[:, None] * 100 < share) & (share <= after[:, None] * 100) & (included[:, None] > 0)
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
