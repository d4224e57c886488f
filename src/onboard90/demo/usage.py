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
import random
import zlib
from pathlib import Path

from onboard90.customers.models import Customer
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


def habit_of(msisdn: str, seed: int) -> tuple[str, tuple[int, int, int]]:
    """The customer's habit, fixed by the seed and their number."""
    point = zlib.crc32(f"{seed}:{msisdn}".encode()) % 100
    for name, share, levels in HABITS:
        if point < share:
            return name, levels
        point -= share
    return HABITS[0][0], HABITS[0][2]


def _amount(rng: random.Random, included: int, percent: int, part: str) -> int:
    base = included * percent / 100 / 30 if included else NONE_INCLUDED[part] * percent / 70
    return max(0, round(rng.gauss(base, base * 0.35)))


def usage_rows(*, day: dt.date, seed: int):
    """(msisdn, date, voice_min, data_mb, sms) of `day` for every customer activated by then and not gone."""
    customers = (
        Customer.objects.filter(activated_on__lte=day, status="active")
        .order_by("pk")
        .values_list("msisdn", "package__voice_min", "package__data_mb", "package__sms", "package__family")
        .iterator(chunk_size=5000)
    )
    for msisdn, voice, data, sms, family in customers:
        habit, (v, d, s) = habit_of(msisdn, seed)
        rng = random.Random(zlib.crc32(f"{seed}:{msisdn}:{day.isoformat()}".encode()))
        minutes = 0 if family == "datacard" else min(_amount(rng, voice, v, "voice"), 1440)
        data_mb = _amount(rng, data, d, "data")
        if habit == "surges" and rng.randrange(SURGE_EVERY) == 0:
            data_mb += rng.randint(*SURGE_MB)
        yield msisdn, day.isoformat(), minutes, data_mb, _amount(rng, sms, s, "sms")


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
    from onboard90.usage.models import (
        OfferChoice,
        PackageFitVerdict,
        SurgeAlert,
        UsageDay,
        UsageLoad,
        UsageMonth,
    )

    deleted = 0
    for model in (SurgeAlert, OfferChoice, PackageFitVerdict, UsageDay, UsageMonth, UsageLoad):
        deleted += model.objects.all().delete()[0]
    return deleted
