"""套餐适配 (package fit): does each customer's package suit what they actually use?

Plain Python and NumPy, no Django (a test keeps it so), like the tariff engine it prices with. For arrays
of customers × candidate packages × months (the last two complete bill months), `package_fit` prices every
month under every package (`catalog.tariff.charges`, exact fen) and gives, per customer, the verdict, the
recommended package and the monthly saving; `explanation` says why in plain Chinese for one customer;
`package_fit_one` is the scalar reference the vectorised verdict is tested against.

The rules (thresholds are parameters: playbook data once package fit is an act of the cycle):

* **does not fit** (不合适) when another package open to the customer would have cost at least
  `saving_percent` (10 %) less over the months priced, or when every allowance the package includes was
  used less than `min_use_percent` (50 %) on average and a cheaper package is open to them (a package
  paid for and half unused: the plan's "不用那么多"). A package whose every allowance is zero (the 20元
  minimum-spend card) is never under-used.
* the **recommended** package is the cheapest over the months priced among those open to the customer;
  ties keep the current package, then the cheaper fee (the table's order). When the package fits, the
  recommendation is the current package and the saving 0.
* the **saving** is per month, in fen: (current − recommended) over the months, divided by their number,
  rounded down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from onboard90.catalog.tariff import Int64Array, Tariff, TariffTable, charge, charges, to_yuan

BoolArray = npt.NDArray[np.bool_]
IndexArray = npt.NDArray[np.intp]
_NEVER = np.iinfo(np.int64).max  # the cost of a package not open to the customer


@dataclass(frozen=True)
class Thresholds:
    """When a package does not fit: another saves at least `saving_percent` % of the current cost, or every
    allowance is used less than `min_use_percent` % (whole percents, so the test is exact integers)."""

    saving_percent: int = 10
    min_use_percent: int = 50

    def __post_init__(self) -> None:
        for name in ("saving_percent", "min_use_percent"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                raise ValueError(f"{name} 须为0到100的整数 / must be a whole percent 0–100: {value!r}")


@dataclass(frozen=True)
class Fit:
    """The verdicts of `package_fit`, one entry per customer (costs per customer × package × month)."""

    costs: Int64Array  # fen, customers × packages × months
    totals: Int64Array  # fen over the months, customers × packages
    current: IndexArray
    recommended: IndexArray
    saving: Int64Array  # fen a month (0 when the package fits)
    saves_enough: BoolArray  # another package saves at least the threshold
    under_used: BoolArray  # every included allowance used less than the threshold
    fits: BoolArray

    @property
    def months(self) -> int:
        return int(self.costs.shape[2])


def _allowances(table: TariffTable) -> tuple[Int64Array, Int64Array, Int64Array]:
    return (
        np.array([t.voice_min for t in table.tariffs], dtype=np.int64),
        np.array([t.data_mb for t in table.tariffs], dtype=np.int64),
        np.array([t.sms for t in table.tariffs], dtype=np.int64),
    )


def package_fit(
    table: TariffTable,
    *,
    current: npt.ArrayLike,
    open_to: npt.ArrayLike,
    minutes: npt.ArrayLike,
    data_mb: npt.ArrayLike,
    sms: npt.ArrayLike,
    thresholds: Thresholds = Thresholds(),
) -> Fit:
    """Verdicts for C customers over the P packages of `table` and M regular months.

    `current`: (C,) the column of each customer's package; `open_to`: (C, P) bool, the packages each may
    move to (their own is always counted open); `minutes`, `data_mb`, `sms`: (C, M) whole numbers."""
    current = np.asarray(current, dtype=np.intp)
    open_mask = np.array(open_to, dtype=np.bool_, copy=True)
    usage = [np.asarray(a) for a in (minutes, data_mb, sms)]
    customers = current.shape[0]
    if open_mask.shape != (customers, len(table)) or any(
        a.ndim != 2 or a.shape[0] != customers for a in usage
    ):
        raise ValueError("形状不符 / shapes: current (C,), open_to (C, P), usage (C, M)")
    if usage[0].shape[1] < 1:
        raise ValueError("至少需要一个月的用量 / at least one month of usage")
    if customers and (current.min() < 0 or current.max() >= len(table)):
        raise ValueError("current 超出套餐范围 / current package index out of range")
    rows = np.arange(customers)
    open_mask[rows, current] = True

    costs = charges(table, *usage)  # C × P × M
    months = costs.shape[2]
    totals = costs.sum(axis=2)
    now = totals[rows, current]
    best = np.argmin(np.where(open_mask, totals, _NEVER), axis=1)
    best_cost = totals[rows, best]
    best = np.where(best_cost < now, best, current)  # a tie keeps the current package
    saving_total = now - np.minimum(best_cost, now)

    saves_enough = (saving_total > 0) & (saving_total * 100 >= thresholds.saving_percent * now)
    used = [a.astype(np.int64).sum(axis=1) for a in usage]  # C: over the months
    under = np.ones(customers, dtype=np.bool_)
    any_included = np.zeros(customers, dtype=np.bool_)
    for included_by_package, total_used in zip(_allowances(table), used, strict=True):
        included = included_by_package[current]
        has = included > 0
        any_included |= has
        under &= ~has | (total_used * 100 < thresholds.min_use_percent * included * months)
    under_used = any_included & under
    fits = ~(saves_enough | (under_used & (best != current)))
    recommended = np.where(fits, current, best)
    saving = np.where(fits, 0, saving_total // months)
    return Fit(costs, totals, current, recommended, saving, saves_enough, under_used, fits)


def package_fit_one(
    tariffs: Sequence[Tariff],
    *,
    current: int,
    open_to: Sequence[bool],
    usage: Sequence[tuple[int, int, int]],
    thresholds: Thresholds = Thresholds(),
) -> tuple[int, int, bool]:
    """The scalar reference for one customer: (recommended column, monthly saving in fen, fits), by the
    module's rules in plain Python over `catalog.tariff.charge`. `usage`: (minutes, MB, SMS) per month."""
    months = len(usage)
    totals = [sum(charge(t, minutes=m, data_mb=d, sms=s).total for m, d, s in usage) for t in tariffs]
    now = totals[current]
    best = current
    for column, total in enumerate(totals):
        if (open_to[column] or column == current) and total < totals[best]:
            best = column
    saving_total = now - totals[best]
    saves_enough = saving_total > 0 and saving_total * 100 >= thresholds.saving_percent * now
    package = tariffs[current]
    included = [package.voice_min, package.data_mb, package.sms]
    used = [sum(month[k] for month in usage) for k in range(3)]
    under_used = any(included) and all(
        used[k] * 100 < thresholds.min_use_percent * included[k] * months for k in range(3) if included[k]
    )
    fits = not (saves_enough or (under_used and best != current))
    return (current, 0, True) if fits else (best, saving_total // months, False)


# --- the explanation --------------------------------------------------------------------------------------

_PARTS = (("通话", "分钟"), ("流量", "MB"), ("短信", "条"))


def _share(used: int, included: int) -> int:
    """A whole percent, rounded half up."""
    return (used * 200 + included) // (included * 2)


def explanation(fit: Fit, table: TariffTable, customer: int, *, minutes, data_mb, sms) -> str:
    """Why, in plain Chinese: each allowance of the current package against the average month's use (over-
    or under-used, by how much), then the verdict with the recommended package and the monthly saving."""
    package = table.tariffs[int(fit.current[customer])]
    months = fit.months
    usage = [np.asarray(a)[customer] for a in (minutes, data_mb, sms)]
    lines = []
    for (label, unit), included, used_months in zip(
        _PARTS, (package.voice_min, package.data_mb, package.sms), usage, strict=True
    ):
        total = int(np.sum(used_months))
        average = (total + months // 2) // months  # the average month, rounded half up
        if label == "通话" and not package.voice:
            continue
        if not included:
            if total:
                lines.append(f"{label}平均每月{average}{unit}，套餐不含{label}，全部按套外资费计费")
            continue
        share = _share(total, included * months)
        if total > included * months:
            lines.append(
                f"{label}平均每月{average}{unit}，超出套餐所含{included}{unit}约{average - included}{unit}"
                f"（用了{share}%），超出部分按套外资费计费"
            )
        elif share < 50:
            lines.append(f"{label}平均每月{average}{unit}，只用了套餐所含{included}{unit}的{share}%")
        else:
            lines.append(f"{label}平均每月{average}{unit}，在套餐所含{included}{unit}以内（用了{share}%）")
    now = int(fit.totals[customer, fit.current[customer]])
    average_now = to_yuan(now // months)
    span = "近两个月" if months == 2 else f"近{months}个月"
    if fit.fits[customer]:
        verdict = f"按{span}的用量，现套餐{package.code}最合适，平均每月{average_now}元。"
    else:
        better = table.tariffs[int(fit.recommended[customer])]
        saving = int(fit.saving[customer])
        percent = _share(saving * months, now) if now else 0
        why = (
            "现套餐的各项额度都用不到一半"
            if fit.under_used[customer] and not fit.saves_enough[customer]
            else ""
        )
        verdict = (
            f"按{span}的用量，现套餐{package.code}平均每月{average_now}元；改用{better.code}"
            f"（月费{to_yuan(better.fee)}元）每月平均可省{to_yuan(saving)}元（约{percent}%）。"
            + (f"{why}。" if why else "")
        )
    return "；".join(lines) + ("。" if lines else "") + verdict
