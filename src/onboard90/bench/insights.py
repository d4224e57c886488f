"""`onboard90 bench insights [--customers N]`: package fit and data-surge detection at a province's scale.

No database: the usage is synthetic NumPy arrays (seeded), the packages the catalogue's shipped data file.

    build            N customers on packages of the catalogue (post-paid phones, pre-paid cards, data
                     cards), each open to the packages of their own kind; two months of voice/data/SMS from
                     a light and a heavy population; a 35-day window of daily MB with days not held, today's
                     MB (some customers surging), the month to date and the package's allowance
    (a) package fit  `usage.fit.package_fit` over N customers × 2 months × every package, in blocks of
                     FIT_BLOCK customers (as the daily cycle would hand them over)
    (b) surge        `usage.surge.surges` over the N customers' day
    references       `package_fit_one` and `surge_one` (plain Python) over a SAMPLE-customer sample

Each part reports its wall time, its speed-up per customer over the scalar reference, and its peak memory
(tracemalloc: the arrays NumPy allocated during that part, in a run of its own); the run reports the
process's peak RSS. Both sides of each ratio are timed REPEAT times and the best run kept, as `timeit`
does: the shortest run is the one the machine disturbed least, and the vectorised part (tens of
milliseconds for the surge) is otherwise at the mercy of one scheduling hiccup.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from onboard90.bench.services import peak_rss_mb
from onboard90.catalog.services import _package_rows
from onboard90.catalog.tariff import TariffTable, tariffs_of
from onboard90.usage.fit import package_fit, package_fit_one
from onboard90.usage.surge import surge_one, surges

TARGETS = {"fit_s": 10.0, "surge_s": 5.0, "speedup": 100.0}  # at 1M customers, on the 2-core machine
FIT_BLOCK = 1 << 16
WINDOW_DAYS = 35  # usage.services.SURGE_WINDOW_DAYS


def catalogue() -> tuple[TariffTable, np.ndarray]:
    """The shipped packages by fee, and which may move to which (same product; phone to phone, data card to
    data card)."""
    rows = _package_rows()
    tariffs = tariffs_of(rows)
    kinds = {str(r["code"]): (str(r.get("product")), str(r.get("family")) == "datacard") for r in rows}
    table = TariffTable(sorted(tariffs.values(), key=lambda t: (t.fee, t.code)))
    kind = [kinds[code] for code in table.codes]
    same = np.array([[a == b for b in kind] for a in kind], dtype=np.bool_)
    return table, same


def build(customers: int, table: TariffTable, seed: int) -> dict[str, np.ndarray]:
    """Synthetic usage: about 70 % light users, 30 % heavy ones, with a phone's or a data card's profile."""
    rng = np.random.default_rng(seed)
    current = rng.integers(0, len(table), customers)
    card = table.datacard[current]
    heavy = rng.random(customers) < 0.3
    months = 2
    scale_voice = np.where(heavy, 500.0, 80.0)[:, None]
    scale_data = np.where(heavy, 900.0, 120.0)[:, None] * np.where(card, 6.0, 1.0)[:, None]
    minutes = (rng.gamma(2.0, 0.5, (customers, months)) * scale_voice).astype(np.int64)
    minutes[card] = 0
    data_mb = (rng.gamma(1.5, 1 / 1.5, (customers, months)) * scale_data).astype(np.int64)
    sms = rng.poisson(np.where(heavy, 120, 15)[:, None], (customers, months)).astype(np.int64)

    daily = scale_data[:, 0] / 30.0
    # int32, as the cycle's alert step reads the day rows (`usage.alerts`).
    window = (rng.gamma(2.0, 0.5, (customers, WINDOW_DAYS)) * daily[:, None]).astype(np.int32)
    held = rng.random((customers, WINDOW_DAYS)) < 0.9
    held[rng.random(customers) < 0.05, 7:] = False  # new customers: a few days only
    today = (rng.gamma(2.0, 0.5, customers) * daily).astype(np.int64)
    surging = rng.random(customers) < 0.02
    today[surging] = today[surging] * 6 + 60
    allowance = np.array([t.data_mb for t in table.tariffs], dtype=np.int64)[current]
    month_before = (rng.random(customers) * 1.1 * np.maximum(allowance, 300)).astype(np.int64)
    return {
        "current": current, "minutes": minutes, "data_mb": data_mb, "sms": sms, "window": window,
        "held": held, "today": today, "month_before": month_before, "allowance": allowance,
    }  # fmt: skip


def _traced_peak(work: Callable[[], Any]) -> float:
    """Peak MB that tracemalloc saw while `work` ran (a run of its own: tracing slows allocation)."""
    tracemalloc.start()
    try:
        work()
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def _best(work: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    """(result, the shortest of `repeat` timed runs in seconds)."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return result, best


def run(
    *, customers: int = 1_000_000, sample: int = 10_000, seed: int = 2012, repeat: int = 3
) -> dict[str, Any]:
    if customers < 1 or sample < 1 or repeat < 1:
        raise ValueError("--customers、--sample 与 --repeat 须为正数 / must be at least 1")
    table, same = catalogue()
    started = time.perf_counter()
    data = build(customers, table, seed)
    build_s = time.perf_counter() - started
    current = data["current"]

    def fit_all() -> int:
        unfit = 0
        for start in range(0, customers, FIT_BLOCK):
            rows = slice(start, start + FIT_BLOCK)
            result = package_fit(
                table, current=current[rows], open_to=same[current[rows]], minutes=data["minutes"][rows],
                data_mb=data["data_mb"][rows], sms=data["sms"][rows],
            )  # fmt: skip
            unfit += int((~result.fits).sum())
        return unfit

    unfit, fit_s = _best(fit_all, repeat)
    fit_mb = _traced_peak(fit_all)

    picked = np.random.default_rng(seed + 1).choice(customers, size=min(sample, customers), replace=False)
    tariffs = table.tariffs
    def fit_reference() -> int:
        unfit = 0
        for c in picked.tolist():
            usage = list(zip(data["minutes"][c].tolist(), data["data_mb"][c].tolist(), data["sms"][c].tolist(),
                             strict=True))  # fmt: skip
            _column, _saving, fits = package_fit_one(
                tariffs, current=int(current[c]), open_to=same[current[c]].tolist(), usage=usage
            )
            unfit += not fits
        return unfit

    reference_unfit, fit_ref_s = _best(fit_reference, repeat)

    def surge_all() -> Any:
        return surges(
            window=data["window"], held=data["held"], today=data["today"], month_before=data["month_before"],
            allowance=data["allowance"],
        )  # fmt: skip

    found, surge_s = _best(surge_all, repeat)
    surge_mb = _traced_peak(surge_all)

    def surge_reference() -> None:
        for c in picked.tolist():
            window = [
                d if h else None
                for d, h in zip(data["window"][c].tolist(), data["held"][c].tolist(), strict=True)
            ]
            surge_one(
                window=window, today=int(data["today"][c]), month_before=int(data["month_before"][c]),
                allowance=int(data["allowance"][c]),
            )  # fmt: skip

    _none, surge_ref_s = _best(surge_reference, repeat)

    def part(seconds: float, reference_s: float, peak_mb: float, target_s: float) -> dict[str, Any]:
        per_customer = seconds / customers
        per_reference = reference_s / len(picked)
        speedup = per_reference / per_customer
        return {
            "seconds": round(seconds, 3),
            "us_per_customer": round(per_customer * 1e6, 3),
            "reference_seconds": round(reference_s, 3),
            "reference_us_per_customer": round(per_reference * 1e6, 1),
            "speedup": round(speedup, 1),
            "peak_traced_mb": round(peak_mb, 1),
            "target_s": target_s,
            "met": seconds <= target_s * customers / 1_000_000 and speedup >= TARGETS["speedup"],
        }

    return {
        "customers": customers,
        "sample": len(picked),
        "packages": len(table),
        "months": int(data["minutes"].shape[1]),
        "window_days": WINDOW_DAYS,
        "repeat": repeat,
        "build_s": round(build_s, 1),
        "fit": {
            **part(fit_s, fit_ref_s, fit_mb, TARGETS["fit_s"]),
            "does_not_fit": unfit,
            "sample_does_not_fit": reference_unfit,
        },  # fmt: skip
        "surge": {
            **part(surge_s, surge_ref_s, surge_mb, TARGETS["surge_s"]),
            "day_surges": int(found.day_surge.sum()),
            "crossings": dict(
                zip((f"{p}%" for p in found.percents), found.crossed.sum(axis=0).tolist(), strict=True)
            ),
        },  # fmt: skip
        "peak_rss_mb": peak_rss_mb(),
    }
