"""The cycle's verdicts from usage, set-based: the package-fit verdict of every customer is exactly what the
`fit` command says for them one by one, and the offer follows the rules the offers carry."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from onboard90 import testing as builders
from onboard90.catalog.services import catalog_install
from onboard90.core import clock
from onboard90.customers.models import Customer
from onboard90.usage import fit
from onboard90.usage.models import Offer, OfferChoice, PackageFitVerdict, UsageMonth
from onboard90.usage.selectors import customer_fit
from onboard90.usage.verdicts import (
    offer_choices,
    offer_choices_store,
    package_fit_store,
    package_fit_verdicts,
)

pytestmark = pytest.mark.django_db
TODAY = dt.date(2012, 5, 20)
PACKAGES = [("A46", "postpaid"), ("A96", "postpaid"), ("B66", "postpaid"), ("C46", "postpaid"), ("A286", "postpaid"),
            ("P20", "prepaid"), ("P36", "prepaid"), ("D80", "postpaid"), ("D150", "postpaid")]  # fmt: skip


def months_of(customer, usage: dict[str, tuple[int, int, int]], days: int = 30) -> None:
    for month, (voice, data, sms) in usage.items():
        UsageMonth.objects.create(
            customer=customer, month=month, voice_min=voice, data_mb=data, sms=sms, days=days, load_id=1
        )


@pytest.fixture
def mixed_province():
    """Forty customers on every kind of package, activated so that two, one or no complete month is on file
    at TODAY, with usage from nothing to far over any allowance."""
    catalog_install()
    rng = random.Random(19)
    made = []
    for i in range(40):
        code, product = PACKAGES[i % len(PACKAGES)]
        activated = rng.choice(
            [dt.date(2012, 2, 10), dt.date(2012, 3, 1), dt.date(2012, 3, 25), dt.date(2012, 4, 30)]
        )
        customer = builders.customer(
            package_code=code, product=product, activated_on=activated, start_journey=False
        )
        held = rng.choice([["2012-03", "2012-04"], ["2012-04"], ["2012-03"], []])
        months_of(
            customer,
            {
                m: (rng.choice([0, 20, 200, 900]), rng.choice([0, 30, 400, 4000]), rng.choice([0, 10, 300]))
                for m in held
            },
        )
        made.append(customer)
    return made


def test_every_verdict_is_the_one_the_fit_command_gives(mixed_province):
    thresholds = fit.Thresholds(saving_percent=10, min_use_percent=50)
    found = {
        v.customer_id: v
        for v in package_fit_verdicts(Customer.objects.all(), today=TODAY, thresholds=thresholds)
    }
    assert found, "some customers have complete months on file"
    for customer in mixed_province:
        try:
            doc = customer_fit(msisdn=customer.msisdn, today=TODAY, thresholds=thresholds)
        except ValueError:
            assert customer.pk not in found  # no complete month of usage: no verdict
            continue
        verdict = found[customer.pk]
        assert (verdict.verdict, verdict.recommended, verdict.months) == (
            doc["verdict"],
            doc["recommended"],
            doc["months"],
        )
        assert verdict.saving == int(doc["monthly_saving"] * 100)
        assert verdict.explanation == doc["explanation"]
        assert [code for code, _ in verdict.comparison["packages"]] == [
            row["package"] for row in doc["packages"]
        ]


def test_thresholds_come_from_the_caller(mixed_province):
    strict = package_fit_verdicts(Customer.objects.all(), today=TODAY, thresholds=fit.Thresholds(100, 0))
    loose = package_fit_verdicts(Customer.objects.all(), today=TODAY, thresholds=fit.Thresholds(1, 100))
    assert sum(not v.fits for v in strict) < sum(not v.fits for v in loose)


def test_storing_replaces_the_verdict_and_names_the_customers_whose_verdict_moved():
    catalog_install()
    caller = builders.customer(package_code="A46", activated_on=dt.date(2012, 2, 10), start_journey=False)
    months_of(caller, {"2012-03": (400, 100, 0), "2012-04": (400, 100, 0)})

    moved = package_fit_store(verdicts=package_fit_verdicts([caller.pk], today=TODAY), today=TODAY)
    stored = PackageFitVerdict.objects.get(customer=caller)
    assert moved == [caller.pk]
    assert (stored.verdict, stored.recommended, stored.saving) == ("does_not_fit", "C66", 5150)
    assert "改用C66" in stored.explanation and stored.comparison["months"] == ["2012-03", "2012-04"]

    again = package_fit_store(verdicts=package_fit_verdicts([caller.pk], today=TODAY), today=TODAY)
    assert again == []  # the same verdict: nothing for the engine to look at again

    UsageMonth.objects.filter(customer=caller).update(voice_min=40)
    moved = package_fit_store(verdicts=package_fit_verdicts([caller.pk], today=TODAY), today=TODAY)
    assert moved == [caller.pk] and PackageFitVerdict.objects.get(customer=caller).verdict == "fits"
    assert PackageFitVerdict.objects.count() == 1


# --- the offer ---------------------------------------------------------------------------------------------


def first_month(
    package_code: str, usage: tuple[int, int, int], *, days: int = 31, activated=dt.date(2012, 3, 1)
):
    customer = builders.customer(package_code=package_code, activated_on=activated, start_journey=False)
    months_of(customer, {"2012-03": usage}, days=days)
    return customer


def chosen(*customers) -> dict[int, str]:
    codes = dict(Offer.objects.values_list("pk", "code"))
    return {c.customer_id: codes[c.offer_id] for c in offer_choices([x.pk for x in customers])}


def test_the_shipped_offers_are_the_add_on_packs_of_the_reference():
    codes = set(Offer.objects.values_list("code", flat=True))
    assert {"data10", "data20", "data30", "sms15", "callerid_ring", "data_loyalty"} <= codes


def test_a_data_overflow_gets_the_smallest_data_pack_that_covers_it():
    catalog_install()
    near = first_month("A46", (10, 130, 0))  # 87 % of 150 MB: a pack before it overflows, the smallest
    over = first_month("A46", (10, 420, 0))  # 270 MB over: the 300 MB pack
    far = first_month("A46", (10, 2000, 0))  # beyond any pack: the largest
    assert chosen(near, over, far) == {near.pk: "data10", over.pk: "data20", far.pk: "data30"}


def test_the_first_month_is_taken_to_a_whole_month():
    catalog_install()
    # Ten days on file from the 22nd: 60 MB is about 186 MB a month, over A46's 150 MB by 36.
    late = first_month("A46", (0, 60, 0), days=10, activated=dt.date(2012, 3, 22))
    choice = offer_choices([late.pk])[0]
    assert chosen(late) == {late.pk: "data10"} and "约186MB" in choice.reason


def test_the_most_overflowing_allowance_picks_the_kind_and_a_light_user_gets_a_service():
    catalog_install()
    texter = first_month("A66", (10, 100, 400))  # 167 % of 240 SMS, 33 % of the data
    light = first_month("A66", (10, 50, 20))
    assert chosen(texter, light) == {texter.pk: "sms15", light.pk: "callerid_ring"}


def test_an_offer_switched_off_in_the_admin_is_never_chosen():
    catalog_install()
    Offer.objects.filter(code="data10").update(active=False)
    near = first_month("A46", (10, 130, 0))
    assert chosen(near) == {near.pk: "data20"}


def test_no_first_month_on_file_no_offer_and_an_offer_made_stays():
    catalog_install()
    nothing = builders.customer(package_code="A46", activated_on=dt.date(2012, 3, 1), start_journey=False)
    over = first_month("A46", (10, 420, 0))
    assert offer_choices([nothing.pk]) == []
    offer_choices_store(choices=offer_choices([over.pk]), today=TODAY)
    OfferChoice.objects.filter(customer=over).update(made_at=clock.at_local(TODAY, 10))
    UsageMonth.objects.filter(customer=over).update(data_mb=2000)
    assert offer_choices_store(choices=offer_choices([over.pk]), today=TODAY) == 0
    assert OfferChoice.objects.get(customer=over).offer.code == "data20"
