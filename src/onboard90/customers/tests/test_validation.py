"""The row validators on their own (no database): numbers, dates, months, amounts, tiers and file decoding."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onboard90.core.clock import OPERATOR_TZ
from onboard90.customers import importing, validation
from onboard90.customers.validation import RowError, TierRef

unicom_numbers = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(sorted(validation.UNICOM_PREFIXES)),
    st.text(alphabet="0123456789", min_size=8, max_size=8),
)


@given(number=unicom_numbers, spelling=st.sampled_from(["{}", "+86{}", "86{}", "0086{}", " {} ", "+86 {}"]))
def test_every_unicom_number_is_accepted_in_every_usual_spelling(number, spelling):
    assert validation.parse_msisdn(spelling.format(number)) == number


@given(number=st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_only_unicom_prefixes_pass(number):
    if number[:3] in validation.UNICOM_PREFIXES:
        assert validation.parse_msisdn(number) == number
    else:
        with pytest.raises(RowError, match="not an 11-digit Unicom mobile number"):
            validation.parse_msisdn(number)


@given(
    moment=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2030, 12, 31)),
    template=st.sampled_from(["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y%m%d%H%M%S"]),
)
def test_local_times_are_read_as_asia_shanghai_in_every_spelling(moment, template):
    moment = moment.replace(microsecond=0)
    assert validation.parse_instant(moment.strftime(template), "at") == moment.replace(tzinfo=OPERATOR_TZ)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2012-03-01", dt.datetime(2012, 3, 1, tzinfo=OPERATOR_TZ)),
        ("2012年3月1日", dt.datetime(2012, 3, 1, tzinfo=OPERATOR_TZ)),
        ("2012-03-01 9:05", dt.datetime(2012, 3, 1, 9, 5, tzinfo=OPERATOR_TZ)),
        ("2012-03-01T02:00:00Z", dt.datetime(2012, 3, 1, 10, tzinfo=OPERATOR_TZ)),
        ("2012-03-01 10:00:00+0800", dt.datetime(2012, 3, 1, 10, tzinfo=OPERATOR_TZ)),
    ],
)
def test_dates_with_and_without_time_and_offset(text, expected):
    assert validation.parse_instant(text, "at") == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2012-02-30", "not a real date"),
        ("2011-02-29", "not a real date"),
        ("2012-03-01 25:00", "not a real date"),
        ("01/03/2012", "not a date/time"),
        ("soon", "not a date/time"),
    ],
)
def test_impossible_or_unreadable_dates_are_refused(text, reason):
    with pytest.raises(RowError, match=reason):
        validation.parse_instant(text, "activated_at")


@pytest.mark.parametrize(
    ("text", "month"), [("2012-03", "2012-03"), ("201203", "2012-03"), ("2012/3", "2012-03"), ("2012-03-01", "2012-03")]
)
def test_bill_months(text, month):
    assert validation.parse_bill_month(text) == month


@pytest.mark.parametrize(("text", "amount"), [("58.5", "58.50"), ("1,058.00", "1058.00"), ("0", "0.00")])
def test_amounts(text, amount):
    assert validation.parse_amount(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["-1", "abc", "NaN", "Infinity"])
def test_bad_amounts(text):
    with pytest.raises(RowError, match="non-negative number"):
        validation.parse_amount(text)


def test_vip_rank_counts_only_enabled_tiers():
    lookups = validation.Lookups.build(
        cities=[], stores=[], packages=[],
        tiers=[TierRef(1, "diamond", "钻石卡", 1, True), TierRef(2, "platinum", "白金卡", 2, False),
               TierRef(3, "gold", "金卡", 3, True)],
    )
    assert validation.parse_tier("2", lookups).code == "gold"
    assert validation.parse_tier("金卡", lookups).code == "gold"
    assert validation.parse_tier("", lookups) is None
    with pytest.raises(RowError, match="disabled"):
        validation.parse_tier("platinum", lookups)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("号码,地市\n".encode("utf-8-sig"), "utf-8-sig"),
        ("号码,地市\n".encode(), "utf-8"),
        ("号码,地市\n".encode("gbk"), "gb18030"),
    ],
)
def test_file_encoding_is_detected(data, encoding):
    assert importing.decode(data) == ("号码,地市\n", encoding)


def test_the_column_limits_are_the_model_columns_max_length():
    """A value stored as typed is refused by its row's validation before the database could refuse it."""
    from onboard90.customers.models import Customer, CustomerEvent

    stored = {"name": Customer, "contract_plan": Customer, "idempotency_key": CustomerEvent}
    assert set(validation.COLUMN_LIMITS) == set(stored)
    for column, model in stored.items():
        assert validation.COLUMN_LIMITS[column] == model._meta.get_field(column).max_length, column


@pytest.mark.parametrize(
    ("column", "limit"), [("name", 64), ("contract_plan", 64), ("idempotency_key", 128), ("city", 256)]
)
def test_a_known_column_over_its_limit_is_refused_naming_it(column, limit):
    validation.check_lengths({column: "x" * limit, "unknown_column": "y" * 100_000})  # unknown columns are ignored
    with pytest.raises(RowError, match=f"{column} is longer than {limit} characters \\({limit + 1}\\)"):
        validation.check_lengths({column: "x" * (limit + 1)})


def test_an_activation_is_in_the_period_from_its_last_day_and_refused_the_day_before():
    now = dt.datetime(2012, 5, 20, 0, 30, tzinfo=OPERATOR_TZ)
    validation.check_activation_period(dt.datetime(2012, 2, 20, 0, 0, tzinfo=OPERATOR_TZ), now=now, journey_days=90)
    # 2012-02-19 16:30 UTC is 2012-02-20 00:30 in Shanghai: local dates decide, as for the journey's days
    validation.check_activation_period(dt.datetime(2012, 2, 19, 16, 30, tzinfo=dt.UTC), now=now, journey_days=90)
    with pytest.raises(RowError, match="activated before the 90-day onboarding period: 2012-02-19 23:59"):
        validation.check_activation_period(
            dt.datetime(2012, 2, 19, 23, 59, tzinfo=OPERATOR_TZ), now=now, journey_days=90
        )
