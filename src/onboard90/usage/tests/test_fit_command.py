"""`onboard90 fit MSISDN [--json]`: one customer's last two complete months priced under every package open
to them (the shipped catalogue), with the verdict, the recommendation, the saving and the explanation."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from onboard90 import testing as builders
from onboard90.catalog.services import catalog_install
from onboard90.usage.models import UsageMonth
from onboard90.usage.selectors import candidate_packages, complete_months, customer_fit

pytestmark = pytest.mark.django_db
TODAY = dt.date(2012, 5, 20)


@pytest.fixture
def heavy_caller():
    """On A46 since 2012-02-10, 400 minutes and 100 MB in each of March and April (February is the
    activation month, May is not over)."""
    catalog_install()
    customer = builders.customer(package_code="A46", activated_on=dt.date(2012, 2, 10), start_journey=False)
    for month in ("2012-03", "2012-04"):
        UsageMonth.objects.create(customer=customer, month=month, voice_min=400, data_mb=100, sms=0, days=30,
                                  load_id=1)  # fmt: skip
    return customer


def test_the_complete_months_are_after_the_activation_month_and_before_this_one():
    assert complete_months(activated_on=dt.date(2012, 2, 10), today=TODAY) == ["2012-03", "2012-04"]
    assert complete_months(activated_on=dt.date(2012, 3, 1), today=TODAY) == ["2012-04"]
    assert complete_months(activated_on=dt.date(2012, 4, 30), today=TODAY) == []


def test_candidates_are_the_customer_s_product_and_kind_of_line(heavy_caller):
    codes = [p.code for p in candidate_packages(heavy_caller)]
    assert "A46" in codes and "C66" in codes and "B186" in codes
    assert not any(code.startswith(("P", "D")) for code in codes)
    prepaid = builders.customer(package_code="P36", product="prepaid", start_journey=False)
    assert [p.code for p in candidate_packages(prepaid)] == ["P20", "P36"]
    card = builders.customer(package_code="D150", start_journey=False)
    assert [p.code for p in candidate_packages(card)] == ["D80", "D150", "D200", "D300"]


def test_the_comparison_recommends_the_cheapest_open_package(heavy_caller):
    # A46: 46 + 350 × 0.25 = 133.50. C66 (380 local min, 60 MB): 66 + 20 × 0.20 + 40 × 0.30 = 82.00, the
    # cheapest of the post-paid phone packages on 400 min and 100 MB: 51.50 a month less.
    doc = customer_fit(msisdn=heavy_caller.msisdn, today=TODAY)

    rows = {row["package"]: row for row in doc["packages"]}
    assert str(rows["A46"]["average"]) == "133.50" and rows["A46"]["current"]
    assert str(rows["C66"]["average"]) == "82.00" and rows["C66"]["recommended"]
    assert str(rows["C66"]["vs_current"]) == "-51.50"
    assert (doc["verdict"], doc["recommended"], str(doc["monthly_saving"])) == (
        "does_not_fit",
        "C66",
        "51.50",
    )
    assert doc["months"] == ["2012-03", "2012-04"] and doc["missing_months"] == []
    assert "改用C66" in doc["explanation"] and "每月平均可省51.50元" in doc["explanation"]


def test_the_command_prints_the_table_or_one_json_document(heavy_caller, capsys):
    out = StringIO()
    call_command("fit", heavy_caller.msisdn, "--date", "2012-05-20", stdout=out)
    text = out.getvalue()
    assert "A46" in text and "C66" in text and "推荐 recommended" in text and "不合适 / does not fit" in text
    assert "133.50" in text and "82.00" in text

    capsys.readouterr()
    call_command("fit", heavy_caller.msisdn, "--date", "2012-05-20", "--json", stdout=StringIO())
    doc = json.loads(capsys.readouterr().out)
    assert doc["recommended"] == "C66" and doc["monthly_saving"] == 51.5


def test_nothing_to_price_is_said_plainly(heavy_caller):
    with pytest.raises(CommandError, match="unknown customer"):
        call_command("fit", "18699999999", stdout=StringIO())
    with pytest.raises(CommandError, match="not an 11-digit"):
        call_command("fit", "12345", stdout=StringIO())
    with pytest.raises(CommandError, match="no complete month of usage yet"):
        call_command("fit", heavy_caller.msisdn, "--date", "2012-03-15", stdout=StringIO())
