"""The audience as a database filter selects exactly the customers the Python form accepts."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.customers.models import Customer
from onboard90.journeys.audience_sql import facts_of, to_q
from onboard90.journeys.models import Journey
from onboard90.journeys.rules.audience import FACTS, AudienceError, Compare, Const, Not, Or, evaluate, parse
from onboard90.journeys.rules.tests.strategies import audience_nodes, to_text
from onboard90.playbook.models import PlaybookVersion
from onboard90.usage.models import PackageFitVerdict

PACKAGES = [
    # code, family, product, monthly fee
    ("A66", "A", "postpaid", "66.00"),
    ("A96", "A", "postpaid", "96.00"),
    ("B46", "B", "postpaid", "46.00"),
    ("B66", "B", "postpaid", "66.10"),
    ("C126", "C", "postpaid", "126.00"),
    ("P19", "prepaid", "prepaid", "19.50"),
    ("D50", "datacard", "postpaid", "50.00"),
]
TIERS = [None, "diamond", "platinum", "gold", "silver"]
HANDSETS = ["android", "ios", "symbian", "windows", "other", ""]
CITIES = ["jinan", "qingdao", "zibo"]
FIRST_MONTHS = ["full", "half", "outside"]

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def population(size: int = 60) -> list[Customer]:
    """Customers spread over every value of every fact, with non-VIPs well represented."""
    rng = random.Random(90)
    cities = [builders.city(code) for code in CITIES]
    for code, family, product, fee in PACKAGES:
        builders.package(code, family=family, product=product, monthly_fee=Decimal(fee))
    tiers = {code: builders.vip_tier(code) for code in TIERS if code}
    made = []
    for i in range(size):
        tier = TIERS[i % len(TIERS)] if i % 3 else None
        code, _, product, _ = PACKAGES[i % len(PACKAGES)]
        made.append(
            builders.customer(
                city_obj=cities[i % len(cities)],
                activated_on=dt.date(2012, 3, 1) + dt.timedelta(days=i % 40),
                product=product if i % 11 else "prepaid",
                package_code=code,
                start_journey=False,
                handset_os=rng.choice(HANDSETS),
                vip_tier=tiers[tier] if tier else None,
                number_changed=rng.random() < 0.3,
                marketing_opt_out=rng.random() < 0.3,
                first_month=rng.choice(FIRST_MONTHS),
            )
        )
    # A package-fit verdict for two customers in three (fits, does not fit), none for the rest.
    for i, c in enumerate(made):
        if i % 3:
            verdict(c, "fits" if i % 3 == 1 else "does_not_fit")
    return list(
        Customer.objects.select_related("vip_tier", "city", "package", "package_fit").filter(
            pk__in=[c.pk for c in made]
        )
    )


def verdict(customer, value: str) -> PackageFitVerdict:
    return PackageFitVerdict.objects.create(
        customer=customer,
        as_of=dt.date(2012, 5, 1),
        months="2012-04",
        package=customer.package.code,
        recommended=customer.package.code,
        current_cost=6600,
        saving=0,
        verdict=value,
        explanation="",
    )


def journeys_for(customers: list[Customer]) -> None:
    # A bare version is enough: the filter never reads the playbook, only the journey's customer.
    version = PlaybookVersion.objects.create(
        number=1, name="t", document={"name": "t", "stages": []}, checksum="x", published_at=clock.now()
    )
    Journey.objects.bulk_create(
        Journey(customer=c, playbook_version=version, started_at=c.activated_at) for c in customers
    )


def selected(queryset, q, field="pk") -> set[int]:
    # A savepoint per query, so one failing statement does not poison the rest of the examples on PostgreSQL.
    with transaction.atomic():
        return set(queryset.filter(q).values_list(field, flat=True))


@pytest.mark.django_db
def test_filter_and_python_form_agree_on_customers():
    customers = population()
    facts = {c.pk: facts_of(c) for c in customers}

    @SETTINGS
    @given(audience_nodes())
    def agree(node):
        expected = {pk for pk, f in facts.items() if evaluate(node, f)}
        assert selected(Customer.objects.all(), to_q(node, prefix="")) == expected, to_text(node)

    agree()


@pytest.mark.django_db
def test_filter_and_python_form_agree_on_journeys():
    customers = population()
    with_journey = customers[:-5]  # customers without a journey must never be selected
    journeys_for(with_journey)
    facts = {c.pk: facts_of(c) for c in with_journey}

    @SETTINGS
    @given(audience_nodes())
    def agree(node):
        expected = {pk for pk, f in facts.items() if evaluate(node, f)}
        assert selected(Journey.objects.all(), to_q(node), field="customer_id") == expected, to_text(node)

    agree()


@pytest.mark.django_db
def test_facts_of_gives_exactly_the_known_facts():
    gold = builders.customer(start_journey=False, vip_tier=builders.vip_tier("gold"), handset_os="ios")
    plain = builders.customer(start_journey=False, product="prepaid", package_code="P19")
    assert set(facts_of(gold)) == set(FACTS)
    assert facts_of(gold)["vip"] and facts_of(gold)["vip_level"] == "gold" and facts_of(gold)["vip_rank"] == 3
    assert facts_of(plain)["vip_level"] == "" and facts_of(plain)["vip_rank"] == 0
    assert facts_of(plain)["postpaid"] is False and facts_of(plain)["package_family"] == "prepaid"
    assert facts_of(plain)["package_fit"] == ""
    verdict(gold, "does_not_fit")
    gold.refresh_from_db()
    assert facts_of(gold)["package_fit"] == "does_not_fit"


def test_package_fit_without_a_verdict_is_the_empty_value(db):
    fits = builders.customer(start_journey=False)
    not_fit = builders.customer(start_journey=False)
    none = builders.customer(start_journey=False)
    verdict(fits, "fits")
    verdict(not_fit, "does_not_fit")
    assert customers_matching('package_fit == "does_not_fit"') == {not_fit.pk}
    assert customers_matching('package_fit != "does_not_fit"') == {fits.pk, none.pk}
    assert customers_matching('package_fit == ""') == {none.pk}
    assert customers_matching('package_fit in ("fits", "")') == {fits.pk, none.pk}


@pytest.fixture
def gold_and_plain(db):
    gold = builders.customer(start_journey=False, vip_tier=builders.vip_tier("gold"))
    silver = builders.customer(start_journey=False, vip_tier=builders.vip_tier("silver"))
    plain = builders.customer(start_journey=False)
    return gold, silver, plain


def customers_matching(text) -> set[int]:
    return set(Customer.objects.filter(to_q(text, prefix="")).values_list("pk", flat=True))


def test_not_gold_includes_customers_who_are_not_vip(gold_and_plain):
    gold, silver, plain = gold_and_plain
    assert customers_matching('vip_level != "gold"') == {silver.pk, plain.pk}
    assert customers_matching('not vip_level == "gold"') == {silver.pk, plain.pk}
    assert customers_matching('vip_level not in ("gold", "diamond")') == {silver.pk, plain.pk}


def test_empty_vip_level_and_rank_zero_mean_not_vip(gold_and_plain):
    gold, silver, plain = gold_and_plain
    assert customers_matching('vip_level == ""') == {plain.pk}
    assert customers_matching("vip_rank == 0") == {plain.pk}
    assert customers_matching("vip_rank < 4") == {gold.pk, plain.pk}
    assert customers_matching("vip_rank >= 3.5") == {silver.pk}
    assert customers_matching("vip_rank == 3.5") == set()


def test_fee_literals_compare_as_written(db):
    builders.package("B66", monthly_fee=Decimal("66.10"))
    cheap = builders.customer(start_journey=False)  # A66 at 66.00
    odd = builders.customer(start_journey=False, package_code="B66")
    assert customers_matching("monthly_fee == 66.1") == {odd.pk}
    assert customers_matching("monthly_fee > 66.09999999") == {odd.pk}
    assert customers_matching("monthly_fee < 66.100000001") == {cheap.pk, odd.pk}
    assert customers_matching("monthly_fee in (66, 70)") == {cheap.pk}


def test_constants_match_everyone_or_no_one(gold_and_plain):
    everyone = {c.pk for c in gold_and_plain}
    assert customers_matching("true") == everyone
    assert customers_matching("false") == set()
    assert customers_matching(Not(Const(True))) == set()
    assert customers_matching(Or((Const(True), Compare("vip_level", "==", "gold")))) == everyone
    assert customers_matching(parse("false or vip")) == {c.pk for c in gold_and_plain[:2]}


def test_a_bad_expression_is_refused_before_any_query():
    with pytest.raises(AudienceError, match="unknown fact 'vipp'"):
        to_q("vipp")
