"""The demo province's usage (用量): a night's file of yesterday's usage for every customer on the network,
loaded through the usage import like an operator's feed, so package fit, the offers and the data-surge
alerts have real differences to show.

Each customer keeps one habit for the whole history, drawn from the seed and their number: most use their
package about as meant (it fits), some use far less than they pay for (a cheaper package fits better), some
call or surf far beyond it (a bigger package or a pack pays), and a few have a day now and then when the
data jumps (an app updating over 3G, a hotspot left on).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import zlib
from pathlib import Path

import numpy as np

from onboard90.customers.models import Customer
from onboard90.usage.models import (
    OfferChoice,
    PackageFitVerdict,
    SurgeAlert,
    UsageDay,
    UsageLoad,
    UsageMonth,
)
from onboard90.usage.services import usage_import

# (habit, share in 100, voice, data and SMS as % of the allowance a day's 1/30 of it)
HABITS = [
    ("fits", 40, (70, 75, 60)),
    ("light", 20, (25, 20, 15)),
    ("heavy_voice", 15, (260, 60, 40)),
    ("heavy_data", 15, (60, 230, 30)),
    ("surges", 10, (65, 70, 40)),
]
# Where a package includes none of it (a data card's voice, most packages' SMS), a day's use in absolute terms.
NONE_INCLUDED = {"voice": 3, "data": 8, "sms": 1}
SURGE_EVERY = 17  # a customer with the surging habit has about one surge day in this many
SURGE_MB = (120, 400)


@functools.cache
def habit_of(msisdn: str, seed: int) -> tuple[str, tuple[int, int, int]]:
    """The customer's habit, fixed by the seed and their number."""
    point = zlib.crc32(f"{seed}:{msisdn}".encode()) % 100
    for name, share, levels in HABITS:
        if point < share:
            return name, levels
        point -= share
    return HABITS[0][0], HABITS[0][2]


def usage_rows(*, day: dt.date, seed: int):
    """(msisdn, date, voice_min, data_mb, sms) of `day` for every customer activated by then and not gone.

    A day's use is drawn around the customer's habit (a normal spread of 35 % around its daily share), for all
    of the day's customers at once from one generator seeded by the seed and the day: the same seed gives the
    same history."""
    customers = list(
        Customer.objects.filter(activated_on__lte=day, status="active")
        .order_by("pk")
        .values_list("msisdn", "package__voice_min", "package__data_mb", "package__sms", "package__family")
    )
    if not customers:
        return
    habits = [habit_of(msisdn, seed) for msisdn, *_ in customers]
    percent = np.array([levels for _name, levels in habits], dtype=np.float64)  # (customers, voice/data/SMS)
    included = np.array([[voice or 0, data or 0, sms or 0] for _m, voice, data, sms, _f in customers], dtype=np.float64)
    none_included = np.array([NONE_INCLUDED[part] for part in ("voice", "data", "sms")], dtype=np.float64)
    base = np.where(included > 0, included * percent / 100 / 30, none_included * percent / 70)
    rng = np.random.default_rng([zlib.crc32(str(seed).encode()), day.toordinal()])  # any int seed, negatives too
    amount = np.maximum(0, np.rint(rng.normal(base, base * 0.35))).astype(np.int64)
    datacard = np.array([family == "datacard" for *_, family in customers])
    minutes = np.where(datacard, 0, np.minimum(amount[:, 0], 1440))
    surging = np.array([name == "surges" for name, _levels in habits]) & (rng.integers(0, SURGE_EVERY, len(customers)) == 0)
    data_mb = amount[:, 1] + np.where(surging, rng.integers(SURGE_MB[0], SURGE_MB[1] + 1, len(customers)), 0)
    date = day.isoformat()
    for (msisdn, *_), voice, data, sms in zip(customers, minutes.tolist(), data_mb.tolist(), amount[:, 2].tolist(), strict=True):
        yield msisdn, date, voice, data, sms


def demo_usage_day(*, day: dt.date, folder: Path, seed: int, now: dt.datetime) -> int:
    """Write the night's usage file for `day` and import it; returns the rows taken."""
    path = folder / f"demo-usage-{day.isoformat()}.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["msisdn", "date", "voice_min", "data_mb", "sms"])
        rows = 0
        for row in usage_rows(day=day, seed=seed):
            writer.writerow(row)
            rows += 1
    if not rows:
        path.unlink()
        return 0
    result = usage_import(path=path, now=now)
    return result.created + result.updated


def demo_usage_reset() -> int:
    """Delete the usage of the demo's customers (every customer is one: `demo_reset` checks) and what the
    cycle concluded from it before the customers themselves go (nothing hangs off these rows, so each is one
    DELETE statement, never a load of the rows)."""
    deleted = 0
    for model in (SurgeAlert, OfferChoice, PackageFitVerdict, UsageDay, UsageMonth, UsageLoad):
        deleted += model.objects.all().delete()[0]
    return deleted
