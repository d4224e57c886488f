"""The shipped catalogue: the 2012 packages, VIP tiers, reference facts, and `onboard90 catalog`."""

import csv
import json
from decimal import Decimal
from importlib import resources
from io import StringIO

import pytest
from django.core.management import call_command

from onboard90.catalog.models import Package, ReferenceItem, VipTier
from onboard90.catalog.selectors import package_as_dict, package_list, reference_items, vip_tier_list
from onboard90.catalog.services import catalog_install

pytestmark = pytest.mark.django_db

JSON_KEYS = {
    "code", "name", "family", "product", "monthly_fee", "voice_min", "data_mb", "sms",
    "voice_rate", "data_rate", "sms_rate", "video_rate", "voice_scope", "long_distance_rate", "minimum_spend",
    "data_cap_mb",
}  # fmt: skip


@pytest.fixture
def installed():
    return catalog_install()


def catalog_json(capsys, *args: str) -> list[dict]:
    capsys.readouterr()
    call_command("catalog", "--json", *args, stdout=StringIO(), stderr=StringIO())
    out = capsys.readouterr().out
    return json.loads(out)  # the whole of stdout is one JSON document


def test_install_loads_every_row_of_the_package_file(installed):
    shipped = resources.files("onboard90.catalog").joinpath("data/packages.csv").read_text(encoding="utf-8")
    codes = [row["code"] for row in csv.DictReader(StringIO(shipped))]
    assert installed["packages"]["created"] == len(codes) == 26
    assert set(Package.objects.values_list("code", flat=True)) == set(codes)
    families = {f: Package.objects.filter(family=f).count() for f in ["A", "B", "C", "prepaid", "datacard"]}
    assert families == {"A": 11, "B": 6, "C": 3, "prepaid": 2, "datacard": 4}


def test_a66_is_the_2012_default_postpaid_plan(installed):
    a66 = Package.objects.get(code="A66")
    assert (a66.monthly_fee, a66.voice_min, a66.data_mb, a66.sms) == (Decimal("66"), 50, 300, 240)
    assert (a66.voice_rate, a66.data_rate, a66.sms_rate, a66.video_rate) == (
        Decimal("0.2"), Decimal("0.3"), Decimal("0.1"), Decimal("0.6"),
    )  # fmt: skip
    assert a66.product == "postpaid" and a66.confidence == "C"
    p20 = Package.objects.get(code="P20")
    assert p20.product == "prepaid" and "100 MB" in p20.notes


def test_vip_tiers_diamond_to_silver_with_platinum_disabled(installed):
    tiers = [(t.rank, t.code, t.name, t.enabled, t.min_avg_bill) for t in vip_tier_list()]
    assert tiers == [
        (1, "diamond", "钻石卡", True, Decimal("450")),
        (2, "platinum", "白金卡", False, Decimal("380")),
        (3, "gold", "金卡", True, Decimal("300")),
        (4, "silver", "银卡", True, Decimal("150")),
    ]
    assert all(t.benefits and "10018" in t.benefits for t in VipTier.objects.all())
    assert [t.code for t in vip_tier_list(enabled_only=True)] == ["diamond", "gold", "silver"]


def test_reference_facts_channels_payment_methods_and_data_surges(installed):
    assert reference_items("channel").count() == 9
    assert reference_items("payment_method").count() == 8
    assert reference_items("data_surge").count() == 5
    identifiers = set(reference_items("channel").values_list("identifier", flat=True))
    assert {"10010", "10018", "10011", "www.10010.com", "12300"} <= identifiers
    hotline = ReferenceItem.objects.get(kind="channel", code="hotline")
    assert (hotline.name, hotline.name_en, hotline.identifier, hotline.rank) == (
        "客服热线", "Customer-service hotline", "10010", 1,
    )  # fmt: skip
    assert ReferenceItem.objects.get(kind="data_surge", code="tethering").name == "手机开热点共享上网"


def test_install_twice_changes_nothing_and_keeps_operator_edits(installed):
    Package.objects.filter(code="A66").update(monthly_fee=Decimal("68"))
    VipTier.objects.filter(code="platinum").update(enabled=True)
    ReferenceItem.objects.filter(kind="channel", code="complaint-line").delete()

    again = catalog_install()

    assert again["packages"] == {"created": 0, "unchanged": 26, "edited": 1}
    assert again["vip_tiers"] == {"created": 0, "unchanged": 4, "edited": 1}
    assert again["reference_items"] == {"created": 1, "unchanged": 21, "edited": 0}
    assert Package.objects.get(code="A66").monthly_fee == Decimal("68")
    assert VipTier.objects.get(code="platinum").enabled is True
    assert catalog_install()["reference_items"] == {"created": 0, "unchanged": 22, "edited": 0}


def test_catalog_json_is_a_list_of_packages_with_numbers_as_numbers(installed, capsys):
    rows = catalog_json(capsys)
    assert len(rows) == 26
    assert all(set(row) == JSON_KEYS for row in rows)
    a66 = next(row for row in rows if row["code"] == "A66")
    assert a66 == {
        "code": "A66",
        "name": "沃3G基本套餐A计划66元",
        "family": "A",
        "product": "postpaid",
        "monthly_fee": 66,
        "voice_min": 50,
        "data_mb": 300,
        "sms": 240,
        "voice_rate": 0.2,
        "data_rate": 0.3,
        "sms_rate": 0.1,
        "video_rate": 0.6,
        "voice_scope": "national",
        "long_distance_rate": None,
        "minimum_spend": False,
        "data_cap_mb": None,
    }
    numeric = {"monthly_fee", "voice_min", "data_mb", "sms", "voice_rate", "data_rate", "sms_rate", "video_rate"}
    assert all(isinstance(row[key], (int, float)) for row in rows for key in numeric)
    p20 = next(row for row in rows if row["code"] == "P20")  # the 20元 card: a minimum spend, local calls, data stops
    assert (p20["minimum_spend"], p20["voice_scope"], p20["data_cap_mb"]) == (True, "local", 100)


def test_catalog_hides_packages_no_longer_sold_unless_asked(installed, capsys):
    Package.objects.filter(code="A46").update(active=False)
    assert "A46" not in {row["code"] for row in catalog_json(capsys)}
    assert "A46" in {row["code"] for row in catalog_json(capsys, "--all")}
    assert package_list().count() == 25 and package_list(include_inactive=True).count() == 26


def test_catalog_table_is_chinese_first_with_english(installed):
    out = StringIO()
    call_command("catalog", stdout=out)
    text = out.getvalue()
    assert "套餐目录 / package catalogue (26)" in text
    assert "月费(元) / fee" in text and "沃3G基本套餐A计划66元" in text


def test_catalog_on_an_empty_database_says_to_run_init():
    out = StringIO()
    call_command("catalog", stdout=out)
    assert "onboard90 init" in out.getvalue()


def test_package_as_dict_keeps_fractional_fees_exact():
    p = Package(code="X", name="x", family="A", product="postpaid", monthly_fee=Decimal("19.90"),
                voice_rate=Decimal("0.15"), data_rate=Decimal("0.0003"), sms_rate=Decimal("0.1"))  # fmt: skip
    row = package_as_dict(p)
    assert (row["monthly_fee"], row["data_rate"]) == (19.9, 0.0003)
