"""The alerts the cycle's usage sets off, read from the database (`usage.alerts`): the same answers as the scalar
reference `surge.surge_one` fed day by day from the rows, whatever days a file brings and whichever are missing,
across a month's end and in the activation month."""

from __future__ import annotations

import csv
import datetime as dt
import random

import pytest

from onboard90 import testing as builders
from onboard90.catalog.tariff import half_allowance
from onboard90.core import clock
from onboard90.customers.models import Customer
from onboard90.usage import alerts, surge, verdicts
from onboard90.usage.models import UsageDay
from onboard90.usage.services import SURGE_WINDOW_DAYS, month_of, usage_import

pytestmark = pytest.mark.django_db

TODAY = dt.date(2012, 6, 2)  # judged: May 30 – June 2, across the end of May
THRESHOLDS = surge.SurgeThresholds()


def write(path, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["msisdn", "date", "voice_min", "data_mb", "sms"])
        writer.writerows(rows)


def reference(customer: Customer, *, judged: list[dt.date]) -> set[tuple]:
    """What `surge_one` says of each judged day, from the customer's day rows, first day per month kept."""
    held = dict(UsageDay.objects.filter(customer=customer).values_list("day", "data_mb"))
    out: dict[tuple, tuple] = {}
    for day in sorted(judged):
        if day not in held:
            continue
        window = [held.get(day - dt.timedelta(days=n)) for n in range(SURGE_WINDOW_DAYS, 0, -1)]
        before = sum(mb for d, mb in held.items() if month_of(d) == month_of(day) and d < day)
        allowance = customer.package.data_mb
        if month_of(day) == month_of(customer.activated_on):
            allowance = {"half": half_allowance(allowance), "outside": 0}.get(customer.first_month, allowance)
        one = surge.surge_one(
            window=window, today=held[day], month_before=before, allowance=allowance, thresholds=THRESHOLDS
        )
        fired = ([("day_surge", 0)] if one.day_surge else []) + [("month_share", p) for p in one.crossed]
        for kind, percent in fired:
            out.setdefault((customer.pk, month_of(day), kind, percent), (day, held[day], before + held[day]))
    return {(*key, *value) for key, value in out.items()}


def test_the_alerts_from_the_database_are_the_scalar_references(tmp_path):
    city = builders.city("jinan")
    rng = random.Random(20120602)
    people = []
    for n in range(24):
        activated = dt.date(2012, 5, 3) if n % 4 == 0 else dt.date(2012, 3, 20)  # May: all three options
        package = rng.choice(["A46", "A66", "P20", "D80"])
        builders.package(package, data_mb={"A46": 150, "A66": 300, "P20": 0, "D80": 1000}[package])
        first_month = ["full", "half", "outside"][n % 3]
        people.append(
            builders.customer(
                city_obj=city, activated_on=activated, package_code=package, first_month=first_month,
                start_journey=False,
            )
        )  # fmt: skip
    history, night = [], []
    for person in people:
        usual = rng.choice([0, 3, 8, 15, 40])
        day = max(person.activated_on, dt.date(2012, 4, 27))
        while day <= TODAY:
            if rng.random() < 0.9:  # a day now and then is missing from the files
                mb = usual + (rng.randint(40, 400) if rng.random() < 0.12 else rng.randint(0, max(usual, 1)))
                (night if day >= TODAY - dt.timedelta(days=3) else history).append(
                    (person.msisdn, day.isoformat(), 0, mb, 0)
                )
            day += dt.timedelta(days=1)
    write(tmp_path / "history.csv", history)
    usage_import(path=tmp_path / "history.csv", now=clock.at_local(TODAY - dt.timedelta(days=3), 2))
    verdicts.loads_claim(run_id=1)  # an earlier cycle's
    write(tmp_path / "night.csv", night)
    usage_import(path=tmp_path / "night.csv", now=clock.at_local(TODAY, 8))
    verdicts.loads_claim(run_id=2)

    found = alerts.surge_alerts_find(Customer.objects.all(), run_id=2, today=TODAY, thresholds=THRESHOLDS)

    got = {(a.customer_id, a.bill_month, a.kind, a.percent, a.day, a.day_mb, a.month_mb_after) for a in found}
    judged = [TODAY - dt.timedelta(days=n) for n in range(4)]
    expected = set().union(*(reference(p, judged=judged) for p in Customer.objects.select_related("package")))
    assert got == expected
    assert {kind for _c, _m, kind, *_rest in got} == {"day_surge", "month_share"}  # both kinds were tried
    assert len({month for _c, month, *_rest in got}) == 2  # and both months
