"""Row validators for imports and pushed events: pure functions from text to a clean dict, or a RowError
whose reason (Chinese / English, naming the value) goes to the error file. No database access here."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from onboard90.core.clock import OPERATOR_TZ
from onboard90.customers.enums import EventType, FirstMonth, Product

UNICOM_PREFIXES = frozenset({"130", "131", "132", "145", "155", "156", "175", "176", "185", "186"})

CUSTOMER_REQUIRED = ("msisdn", "city", "activated_at", "product", "package_code")
CUSTOMER_OPTIONAL = (
    "name", "store_code", "contract_plan", "previous_msisdn", "handset_os", "vip_level", "vip_rated_at",
    "first_month", "marketing_opt_out",
)
VIP_REQUIRED = ("msisdn", "vip_level", "rated_at")
BILL_REQUIRED = ("msisdn", "bill_month", "issued_at", "amount")
EVENT_REQUIRED = ("type", "msisdn", "at", "idempotency_key")
# The event types the intake takes (an events file, the API). `opt_out` is the sender's word for the fact
# stored as EventType.MARKETING_OPT_OUT (the customer told the BSS or 10010 they want no marketing SMS).
OPT_OUT = "opt_out"
EVENT_TYPES = (
    EventType.ACTIVATION, EventType.VIP_RATED, EventType.BILL_ISSUED, EventType.NUMBER_CHANGED,
    EventType.CANCELLATION, EventType.PORT_OUT, OPT_OUT,
)

# Column -> (Chinese label, model field) for the reasons and for the change payload.
LABELS = {
    "msisdn": "号码",
    "name": "姓名",
    "city": "地市",
    "store_code": "营业厅",
    "activated_at": "入网时间",
    "product": "付费方式",
    "package_code": "套餐",
    "contract_plan": "合约计划",
    "previous_msisdn": "原号码",
    "handset_os": "手机系统",
    "vip_level": "VIP等级",
    "vip_rated_at": "VIP评级时间",
    "rated_at": "评级时间",
    "first_month": "首月资费",
    "marketing_opt_out": "拒收营销短信",
    "bill_month": "账期",
    "issued_at": "出账时间",
    "amount": "金额",
    "at": "发生时间",
    "idempotency_key": "幂等键",
    "type": "事件类型",
}

_PRODUCTS = {
    "postpaid": Product.POSTPAID, "后付费": Product.POSTPAID, "后付": Product.POSTPAID,
    "prepaid": Product.PREPAID, "预付费": Product.PREPAID, "预付": Product.PREPAID,
}
_FIRST_MONTH = {
    "全月套餐": FirstMonth.FULL, "全月": FirstMonth.FULL, "full": FirstMonth.FULL,
    "套餐减半": FirstMonth.HALF, "减半": FirstMonth.HALF, "half": FirstMonth.HALF,
    "套餐包外资费": FirstMonth.OUTSIDE, "包外资费": FirstMonth.OUTSIDE, "包外": FirstMonth.OUTSIDE,
    "outside": FirstMonth.OUTSIDE,
}
_BOOLEAN = {
    "1": True, "true": True, "是": True, "y": True, "yes": True,
    "0": False, "false": False, "否": False, "n": False, "no": False,
}
_HANDSET_OS = {
    "android": "android", "安卓": "android",
    "ios": "ios", "iphone": "ios", "苹果": "ios",
    "symbian": "symbian", "塞班": "symbian",
    "windows": "windows", "windows phone": "windows", "windows mobile": "windows", "wp": "windows",
    "other": "other", "其他": "other",
}
# Empty is "not VIP"; BSS exports also write these for it.
_NOT_VIP = {"", "0", "无", "-", "none", "非vip"}

# How far ahead of "now" an instant may lie. BSS machines stamp activations with their own clocks, which drift
# from ours by seconds or minutes; a real activation a few minutes "ahead" must not be lost (the customer
# would miss the day-0 welcome while the row waits for a resend). An hour covers any drift; anything further
# ahead is a wrong date or a wrong offset (a UTC time labelled +08:00 is eight hours off), so it is refused.
FUTURE_TOLERANCE = dt.timedelta(hours=1)
# No customer, bill or event of a mobile network predates this; it also keeps every instant convertible
# between time zones (year 1 in +08:00 is not representable in UTC) and storable by both databases.
EARLIEST_YEAR = 1970
# The longest text a known column may hold: the model column's max_length where the value is stored as
# typed (a test keeps these equal to the models), otherwise far more than any spelling of a valid value
# (a date-time with offset, a city's name, a tier's code). Checked before anything else, so an oversized
# cell is refused with its column's name and never reaches the database or echoes back in a reason.
COLUMN_LIMITS = {"name": 64, "contract_plan": 64, "idempotency_key": 128}
DEFAULT_COLUMN_LIMIT = 256

_DATE_TIME = re.compile(
    r"^(?P<y>\d{4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?"
    r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{1,2})(?::(?P<S>\d{1,2})(?:\.(?P<f>\d{1,6})\d*)?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)
_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:[ T]?(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})?)?$")
_MONTH = re.compile(r"^(?P<y>\d{4})[-/.年]?(?P<m>\d{1,2})月?(?:[-/.]\d{1,2}.*)?$")


class RowError(ValueError):
    """A row (or pushed event) that cannot be taken; `reason` is what the error file and the API show."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- lookups -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CityRef:
    id: int
    code: str
    name: str
    main_store_id: int | None


@dataclass(frozen=True)
class StoreRef:
    id: int
    code: str
    city_id: int


@dataclass(frozen=True)
class PackageRef:
    id: int
    code: str
    product: str


@dataclass(frozen=True)
class TierRef:
    id: int
    code: str
    name: str
    rank: int
    enabled: bool


@dataclass
class Lookups:
    """Reference data by every spelling an import may use, loaded once per run."""

    cities: dict[str, CityRef] = field(default_factory=dict)
    stores: dict[str, StoreRef] = field(default_factory=dict)
    packages: dict[str, PackageRef] = field(default_factory=dict)
    tiers: dict[str, TierRef] = field(default_factory=dict)
    enabled_tiers: list[TierRef] = field(default_factory=list)  # by rank, highest first
    city_by_id: dict[int, CityRef] = field(default_factory=dict)
    store_by_id: dict[int, StoreRef] = field(default_factory=dict)
    package_by_id: dict[int, PackageRef] = field(default_factory=dict)
    tier_by_id: dict[int, TierRef] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        cities: Iterable[tuple[CityRef, str, str]],  # (city, name_en, area_code)
        stores: Iterable[StoreRef],
        packages: Iterable[PackageRef],
        tiers: Iterable[TierRef],
    ) -> Lookups:
        lookups = cls()
        for city, name_en, area_code in cities:
            lookups.city_by_id[city.id] = city
            spellings = {city.code, city.name, city.name.removesuffix("市"), f"{city.name.removesuffix('市')}市",
                         name_en, area_code, area_code.lstrip("0")}
            for spelling in spellings:
                if spelling:
                    lookups.cities.setdefault(spelling.lower(), city)
        for store in stores:
            lookups.stores[store.code.lower()] = store
            lookups.store_by_id[store.id] = store
        for package in packages:
            lookups.packages[package.code.lower()] = package
            lookups.package_by_id[package.id] = package
        for tier in sorted(tiers, key=lambda t: t.rank):
            lookups.tiers[tier.code.lower()] = tier
            lookups.tiers[tier.name.lower()] = tier
            lookups.tier_by_id[tier.id] = tier
            if tier.enabled:
                lookups.enabled_tiers.append(tier)
        return lookups


# --- single values -------------------------------------------------------------------------------------


def _label(column: str) -> str:
    return f"{LABELS.get(column, column)} / {column}"


def _required(values: Mapping[str, str], column: str) -> str:
    text = values.get(column, "").strip()
    if not text:
        raise RowError(f"缺少{LABELS.get(column, column)} / {column} is empty")
    return text


def _digits(text: str) -> str:
    return re.sub(r"[\s\-()]", "", text)


def _strip_country_code(number: str) -> str:
    for prefix in ("+86", "0086", "86"):
        if number.startswith(prefix) and len(number) == 11 + len(prefix):
            return number[len(prefix):]
    return number


def parse_msisdn(text: str) -> str:
    """An 11-digit China Unicom mobile number; an optional +86/86 is stripped."""
    number = _strip_country_code(_digits(text))
    if len(number) != 11 or not number.isdigit() or number[:3] not in UNICOM_PREFIXES:
        raise RowError(f"号码不是11位联通手机号 / not an 11-digit Unicom mobile number: {text}")
    return number


def parse_mobile(text: str, column: str = "previous_msisdn") -> str:
    """Any 11-digit mainland mobile number (a previous number may have been another operator's)."""
    number = _strip_country_code(_digits(text))
    if len(number) != 11 or not number.isdigit() or number[0] != "1":
        raise RowError(f"{LABELS.get(column, column)}不是11位手机号 / {column} is not an 11-digit mobile number: {text}")
    return number


def parse_instant(text: str, column: str) -> dt.datetime:
    """A date or date-time in the usual spreadsheet spellings; without an offset it is Asia/Shanghai."""
    raw = text.strip()
    match = _DATE_TIME.match(raw) or _COMPACT.match(raw)
    if match is None:
        raise RowError(
            f"{LABELS.get(column, column)}格式错误 / {column} is not a date/time: {raw} "
            f"(expected YYYY-MM-DD[ HH:MM[:SS]])"
        )
    parts = match.groupdict()
    tz_text = parts.get("tz")
    if tz_text:
        if tz_text == "Z":
            tzinfo: dt.tzinfo = dt.UTC
        else:
            sign = 1 if tz_text[0] == "+" else -1
            digits = tz_text[1:].replace(":", "")
            tzinfo = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    else:
        tzinfo = OPERATOR_TZ
    try:
        value = dt.datetime(
            int(parts["y"]), int(parts["m"]), int(parts["d"]),
            int(parts["H"] or 0), int(parts["M"] or 0), int(parts["S"] or 0),
            int((parts.get("f") or "0").ljust(6, "0")), tzinfo=tzinfo,
        )
    except ValueError:
        raise RowError(f"{LABELS.get(column, column)}不是有效日期 / {column} is not a real date: {raw}") from None
    if value.year < EARLIEST_YEAR:
        raise RowError(
            f"{LABELS.get(column, column)}早于{EARLIEST_YEAR}年 / {column} is before {EARLIEST_YEAR}: {raw}"
        )
    return value


def _not_future(value: dt.datetime, text: str, column: str, now: dt.datetime) -> dt.datetime:
    if value > now + FUTURE_TOLERANCE:
        raise RowError(f"{LABELS.get(column, column)}晚于当前时间 / {column} is in the future: {text}")
    return value


def earliest_activation(*, now: dt.datetime, journey_days: int) -> dt.date:
    """The first activation date still inside the onboarding period at `now`.

    A journey's days are local dates from the activation date (day 0) to day `journey_days`, its last; the
    daily cycle closes it the day after (journeys.engine.close_finished_journeys). A customer activated on
    this date is on the last day of the plan; one activated the day before has no plan left to run.
    """
    return local_date(now) - dt.timedelta(days=journey_days)


def check_activation_period(activated_at: dt.datetime, *, now: dt.datetime, journey_days: int) -> None:
    """Refuse a new customer (or a moved activation) that lies before the onboarding period at `now`: its
    whole plan would be missed at once and drag its city's figures down with acts nobody could have done."""
    earliest = earliest_activation(now=now, journey_days=journey_days)
    if local_date(activated_at) < earliest:
        shown = activated_at.astimezone(OPERATOR_TZ).strftime("%Y-%m-%d %H:%M")
        raise RowError(
            f"入网时间早于{journey_days}天服务期(最早{earliest}) / activated before the {journey_days}-day "
            f"onboarding period: {shown} (the earliest activation still in it is {earliest})"
        )


def check_lengths(values: Mapping[str, Any]) -> None:
    """Refuse a row with a known column longer than it may be (see COLUMN_LIMITS); unknown columns are
    ignored by the imports, so they are not checked."""
    for column in LABELS:
        text = values.get(column)
        if isinstance(text, str):
            limit = COLUMN_LIMITS.get(column, DEFAULT_COLUMN_LIMIT)
            if len(text) > limit:
                raise RowError(
                    f"{LABELS[column]}过长 / {column} is longer than {limit} characters ({len(text)})"
                )


def local_date(value: dt.datetime) -> dt.date:
    return value.astimezone(OPERATOR_TZ).date()


def parse_bill_month(text: str) -> str:
    raw = text.strip()
    match = _MONTH.match(raw)
    if match is None or not 1 <= int(match["m"]) <= 12 or int(match["y"]) < 1990:
        raise RowError(f"账期格式错误 / bill_month must be YYYY-MM: {raw}")
    return f"{int(match['y']):04d}-{int(match['m']):02d}"


def parse_amount(text: str) -> Decimal:
    raw = text.strip().replace(",", "").removeprefix("¥").removesuffix("元")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount >= Decimal("1e8"):
        raise RowError(f"金额错误 / amount must be a non-negative number: {text}")
    return amount.quantize(Decimal("0.01"))


def parse_tier(text: str, lookups: Lookups) -> TierRef | None:
    """A VIP tier by code, Chinese name or rank (1 = the highest enabled tier); empty means not VIP."""
    raw = text.strip()
    if raw.lower() in _NOT_VIP:
        return None
    if raw.isdigit():
        rank = int(raw)
        if 1 <= rank <= len(lookups.enabled_tiers):
            return lookups.enabled_tiers[rank - 1]
        raise RowError(f"未知VIP等级 / unknown VIP level: {raw} (ranks 1–{len(lookups.enabled_tiers)})")
    tier = lookups.tiers.get(raw.lower())
    if tier is None:
        raise RowError(f"未知VIP等级 / unknown VIP level: {raw}")
    if not tier.enabled:
        raise RowError(f"VIP等级已停用 / VIP tier {tier.name} ({tier.code}) is disabled")
    return tier


def _choice(text: str, column: str, choices: Mapping[str, Any], expected: str) -> Any:
    value = choices.get(text.strip().lower())
    if value is None:
        raise RowError(f"{LABELS.get(column, column)}错误 / {column} must be {expected}: {text}")
    return value


# --- rows ----------------------------------------------------------------------------------------------


def clean_customer(values: Mapping[str, str], lookups: Lookups, *, now: dt.datetime) -> dict[str, Any]:
    """A customers-file row (or an activation event) as model values; raises RowError.

    The result holds every model field (defaults filled in) and `given`: the fields that came from a
    non-empty cell, which are the only ones allowed to change an existing customer.
    Whether the activation lies in the onboarding period depends on the customer being new, so the write
    checks it (check_activation_period).
    """
    check_lengths(values)
    msisdn = parse_msisdn(_required(values, "msisdn"))
    city_text = _required(values, "city")
    city = lookups.cities.get(city_text.lower())
    if city is None:
        raise RowError(f"未知地市 / unknown city: {city_text}")
    activated_text = _required(values, "activated_at")
    activated_at = _not_future(parse_instant(activated_text, "activated_at"), activated_text, "activated_at", now)
    product = _choice(_required(values, "product"), "product", _PRODUCTS, "postpaid or prepaid")
    package_text = _required(values, "package_code")
    package = lookups.packages.get(package_text.lower())
    if package is None:
        raise RowError(f"未知套餐 / unknown package: {package_text}")
    if package.product != product:
        raise RowError(f"套餐与付费方式不符 / package {package.code} is {package.product}, not {product}")
    given = {"msisdn", "city_id", "activated_at", "activated_on", "product", "package_id"}

    def text(column: str) -> str:
        return values.get(column, "").strip()

    store_text = text("store_code")
    if store_text:
        store = lookups.stores.get(store_text.lower())
        if store is None:
            raise RowError(f"未知营业厅 / unknown store: {store_text}")
        if store.city_id != city.id:
            other = lookups.city_by_id.get(store.city_id)
            raise RowError(
                f"营业厅不属于该地市 / store {store.code} belongs to {other.name if other else '?'}, not {city.name}"
            )
        store_id = store.id
        given.add("store_id")
    elif city.main_store_id is None:
        raise RowError(f"该地市没有营业厅 / city {city.name} has no store")
    else:
        store_id = city.main_store_id

    clean: dict[str, Any] = {
        "msisdn": msisdn,
        "city_id": city.id,
        "store_id": store_id,
        "activated_at": activated_at,
        "activated_on": local_date(activated_at),
        "product": product,
        "package_id": package.id,
        "name": text("name"),
        "contract_plan": text("contract_plan"),
        "previous_msisdn": "",
        "number_changed": False,
        "handset_os": "",
        "vip_tier_id": None,
        "vip_rated_at": None,
        "vip_rated_on": None,
        "first_month": FirstMonth.FULL,
        "marketing_opt_out": False,
    }
    for column in ("name", "contract_plan"):
        if clean[column]:
            given.add(column)
    if previous := text("previous_msisdn"):
        clean["previous_msisdn"] = parse_mobile(previous)
        if clean["previous_msisdn"] == msisdn:
            raise RowError("原号码与号码相同 / previous_msisdn equals msisdn")
        clean["number_changed"] = True
        given |= {"previous_msisdn", "number_changed"}
    if os_text := text("handset_os"):
        clean["handset_os"] = _HANDSET_OS.get(os_text.lower(), "other")
        given.add("handset_os")
    if first_month := text("first_month"):
        clean["first_month"] = _choice(first_month, "first_month", _FIRST_MONTH, "全月, 减半 or 包外")
        given.add("first_month")
    if opt_out := text("marketing_opt_out"):
        clean["marketing_opt_out"] = _choice(opt_out, "marketing_opt_out", _BOOLEAN, "1/0, true/false, 是/否 or y/n")
        given.add("marketing_opt_out")
    tier = parse_tier(text("vip_level"), lookups)
    if tier is not None:
        if product == Product.PREPAID:
            raise RowError("预付费客户不参与VIP评级 / prepaid customers are not VIP-rated")
        rated_text = text("vip_rated_at")
        rated_at = activated_at
        if rated_text:
            rated_at = _not_future(parse_instant(rated_text, "vip_rated_at"), rated_text, "vip_rated_at", now)
            if local_date(rated_at) < clean["activated_on"]:
                raise RowError(f"VIP评级早于入网 / vip_rated_at is before activation: {rated_text}")
        clean.update(vip_tier_id=tier.id, vip_rated_at=rated_at, vip_rated_on=local_date(rated_at))
        given |= {"vip_tier_id", "vip_rated_at", "vip_rated_on"}
    clean["given"] = frozenset(given)
    return clean


def clean_vip(values: Mapping[str, str], lookups: Lookups, *, now: dt.datetime) -> dict[str, Any]:
    """A VIP-file row: msisdn, vip_level, rated_at (and an optional idempotency_key)."""
    check_lengths(values)
    msisdn = parse_msisdn(_required(values, "msisdn"))
    level = _required(values, "vip_level")
    tier = parse_tier(level, lookups)
    if tier is None:
        raise RowError(f"未知VIP等级 / unknown VIP level: {level}")
    rated_text = _required(values, "rated_at")
    rated_at = _not_future(parse_instant(rated_text, "rated_at"), rated_text, "rated_at", now)
    return {"msisdn": msisdn, "tier": tier, "rated_at": rated_at, "idempotency_key": _key(values)}


def clean_bill(values: Mapping[str, str], *, now: dt.datetime) -> dict[str, Any]:
    """A bills-file row: msisdn, bill_month (YYYY-MM or YYYYMM), issued_at, amount."""
    check_lengths(values)
    msisdn = parse_msisdn(_required(values, "msisdn"))
    month = parse_bill_month(_required(values, "bill_month"))
    issued_text = _required(values, "issued_at")
    issued_at = _not_future(parse_instant(issued_text, "issued_at"), issued_text, "issued_at", now)
    amount = parse_amount(_required(values, "amount"))
    return {
        "msisdn": msisdn, "bill_month": month, "issued_at": issued_at, "amount": amount,
        "idempotency_key": _key(values),
    }


def _key(values: Mapping[str, Any]) -> str | None:
    key = str(values.get("idempotency_key") or "").strip()
    if len(key) > 128:
        raise RowError("幂等键过长 / idempotency_key is longer than 128 characters")
    return key or None


def _as_text(value: Any) -> str:
    """A JSON value as the text a CSV cell would have held."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def clean_event(obj: Any, lookups: Lookups, *, now: dt.datetime) -> dict[str, Any]:
    """A pushed event `{type, msisdn, at, idempotency_key, …}`; raises RowError.

    Returns type, msisdn, at, idempotency_key, payload (the extra fields as sent) and the type's
    clean values: activation → customer; vip_rated → tier; bill_issued → bill_month, amount;
    number_changed → previous_msisdn; cancellation, port_out and opt_out need nothing more.
    """
    if not isinstance(obj, dict):
        raise RowError("每行须为JSON对象 / each line must be a JSON object")
    missing = [name for name in EVENT_REQUIRED if obj.get(name) in (None, "")]
    if missing:
        raise RowError(f"缺少字段 / missing field(s): {', '.join(missing)}")
    # Nested values are kept in the payload but never read as a field (a field is text or a number).
    values = {str(k): _as_text(v) for k, v in obj.items() if not isinstance(v, (dict, list))}
    check_lengths(values)
    kind = values["type"].lower()
    if kind not in EVENT_TYPES:
        raise RowError(f"未知事件类型 / unknown event type: {values['type']} (expected {', '.join(EVENT_TYPES)})")
    key = _key(values)
    at = _not_future(parse_instant(values["at"], "at"), values["at"], "at", now)
    payload = {k: v for k, v in obj.items() if k not in EVENT_REQUIRED}
    clean: dict[str, Any] = {"type": kind, "at": at, "idempotency_key": key, "payload": payload}
    if kind == EventType.ACTIVATION:
        values.setdefault("activated_at", values["at"])
        if not values["activated_at"]:
            values["activated_at"] = values["at"]
        clean["customer"] = clean_customer(values, lookups, now=now)
        clean["msisdn"] = clean["customer"]["msisdn"]
        return clean
    clean["msisdn"] = parse_msisdn(values["msisdn"])
    if kind == EventType.VIP_RATED:
        level = _required(values, "vip_level")
        tier = parse_tier(level, lookups)
        if tier is None:
            raise RowError(f"未知VIP等级 / unknown VIP level: {level}")
        clean["tier"] = tier
    elif kind == EventType.BILL_ISSUED:
        clean["bill_month"] = parse_bill_month(_required(values, "bill_month"))
        clean["amount"] = parse_amount(_required(values, "amount"))
    elif kind == EventType.NUMBER_CHANGED:
        clean["previous_msisdn"] = parse_mobile(_required(values, "previous_msisdn"))
        if clean["previous_msisdn"] == clean["msisdn"]:
            raise RowError("原号码与号码相同 / previous_msisdn equals msisdn")
    return clean
