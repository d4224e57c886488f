"""Usage rows as the import and the `usage_daily` event give them: pure functions from text to clean values,
or a RowError whose reason (Chinese / English, naming the value) goes to the error file. No database here."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from onboard90.customers.validation import UNICOM_PREFIXES, RowError, local_date, parse_instant, parse_msisdn

USAGE_REQUIRED: Final = ("msisdn", "date", "voice_min", "data_mb", "sms")
LABELS: Final = {
    "msisdn": "号码",
    "date": "日期",
    "voice_min": "通话分钟",
    "data_mb": "流量(MB)",
    "sms": "短信条数",
}
# What one number can use in one day. A day has 1440 minutes; a 3G line at its fastest (HSPA+ 21 Mbit/s)
# moves about 220 GB a day, so a million MB is a typo or a unit error; no handset sends 100 000 SMS a day.
DAY_LIMITS: Final = {"voice_min": 1440, "data_mb": 1_000_000, "sms": 100_000}
MAX_CELL: Final = (
    64  # a cell of a usage row is a number, a date or a phone number: anything longer is refused
)
_PLAIN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _required(values: Mapping[str, str], column: str) -> str:
    text = str(values.get(column) or "").strip()
    if not text:
        raise RowError(f"缺少{LABELS[column]} / {column} is empty")
    if len(text) > MAX_CELL:
        raise RowError(f"{LABELS[column]}过长 / {column} is longer than {MAX_CELL} characters ({len(text)})")
    return text


def parse_day(text: str) -> dt.date:
    """A usage day: YYYY-MM-DD (or any spelling an import accepts for a date; a time of day is dropped,
    an instant with an offset is read as its local date in Asia/Shanghai)."""
    if _PLAIN_DATE.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise RowError(f"日期不是有效日期 / date is not a real date: {text}") from None
    try:
        return local_date(parse_instant(text, "date"))
    except RowError:
        raise RowError(f"日期格式错误 / date is not a date: {text} (expected YYYY-MM-DD)") from None


def parse_amount(text: str, column: str) -> int:
    """A day's amount: a whole number >= 0 (minutes and SMS), or for data a number of MB rounded half up to
    the whole MB (a day's data sum from the billing system may carry decimals; the month is the sum of
    its rounded days, so a month's rounding stays within half a MB a day)."""
    if text.isdigit():
        value = int(text)
    else:
        try:
            number = Decimal(text.replace(",", ""))
        except InvalidOperation:
            raise RowError(f"{LABELS[column]}不是数字 / {column} is not a number: {text}") from None
        if not number.is_finite():
            raise RowError(f"{LABELS[column]}不是数字 / {column} is not a number: {text}")
        if number < 0:
            raise RowError(f"{LABELS[column]}不能为负 / {column} cannot be negative: {text}")
        if number != number.to_integral_value() and column != "data_mb":
            raise RowError(f"{LABELS[column]}须为整数 / {column} must be a whole number: {text}")
        value = int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    limit = DAY_LIMITS[column]
    if value > limit:
        raise RowError(
            f"{LABELS[column]}超出一天的上限{limit} / {column} is more than a day can hold ({limit}): {text}"
        )
    return value


Clean = tuple[str, str, int, int, int]  # msisdn, day (YYYY-MM-DD), voice_min, data_mb, sms


def usage_cleaner(*, today: dt.date, earliest: dt.date) -> Callable[[Mapping[str, Any]], Clean]:
    """The row check of one run: values -> (msisdn, day as YYYY-MM-DD, voice_min, data_mb, sms), or RowError.

    `today`: no day after it (usage is reported for days that are over or running, never ahead).
    `earliest`: the first day still held (usage.services.day_horizon): an earlier day's month is settled
    and its days are gone, so correcting it would count it twice or lose the rest of the month.
    Whether the day lies before the customer's activation needs the customer: the write checks it.

    A day's file has a row for every customer, so the usual spellings (an 11-digit number, YYYY-MM-DD,
    whole numbers) are recognised first without a regular expression or a Decimal; anything else takes
    the full checks, which give the reasons."""
    last, first = today.isoformat(), earliest.isoformat()
    limits = DAY_LIMITS

    def amount(values: Mapping[str, Any], column: str) -> int:
        text = values.get(column) or ""
        if text.isdigit() and len(text) <= 7:
            value = int(text)
            if value <= limits[column]:
                return value
        return parse_amount(_required(values, column), column)

    def clean(values: Mapping[str, Any]) -> Clean:
        msisdn = values.get("msisdn") or ""
        if not (len(msisdn) == 11 and msisdn.isdigit() and msisdn[:3] in UNICOM_PREFIXES):
            msisdn = parse_msisdn(_required(values, "msisdn"))
        text = values.get("date") or ""
        day = text if len(text) == 10 and _PLAIN_DATE.match(text) else ""
        try:
            if day:
                dt.date.fromisoformat(day)  # a real date (not 2012-02-30)
        except ValueError:
            day = ""
        if not day:
            day = parse_day(_required(values, "date")).isoformat()
        if day > last:
            raise RowError(f"日期晚于今天 / date is in the future: {text}")
        if day < first:
            raise RowError(
                f"日期早于日用量保留期(最早{first})，该月已结算 / date is before the days still held "
                f"(the earliest is {first}): its month is settled: {text}"
            )
        return msisdn, day, amount(values, "voice_min"), amount(values, "data_mb"), amount(values, "sms")

    return clean


def clean_usage(values: Mapping[str, Any], *, today: dt.date, earliest: dt.date) -> Clean:
    """One usage row through `usage_cleaner` (see there)."""
    return usage_cleaner(today=today, earliest=earliest)(values)
