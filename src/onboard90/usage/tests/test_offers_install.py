"""The default catalogue of offers comes with `onboard90 init` (usage/data/offers.yaml), like the packages: what
is missing is created, what an operator edited or switched off stays as they left it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from onboard90.usage.models import Offer
from onboard90.usage.services import offers_install

pytestmark = pytest.mark.django_db


def test_a_database_without_offers_gets_the_shipped_catalogue_once():
    Offer.objects.all().delete()
    assert offers_install() == {"created": 6, "unchanged": 0, "edited": 0}
    assert offers_install() == {"created": 0, "unchanged": 6, "edited": 0}
    data10 = Offer.objects.get(code="data10")
    assert (data10.kind, data10.price, data10.amount, data10.trigger_percent) == ("data", Decimal("10"), 100, 80)
    assert set(Offer.objects.values_list("kind", flat=True)) == {"data", "sms", "content"}


def test_an_offer_the_operator_edited_or_switched_off_is_left_as_it_is():
    offers_install()
    Offer.objects.filter(code="data20").update(price=Decimal("18"), active=False)
    Offer.objects.filter(code="sms15").delete()
    assert offers_install() == {"created": 1, "unchanged": 5, "edited": 1}
    data20 = Offer.objects.get(code="data20")
    assert (data20.price, data20.active) == (Decimal("18"), False)
