"""The tariff engine: what one month of a usage profile costs under a package, exactly, in fen.

Plain Python and NumPy, no Django (a test keeps it so): `tariff_of` turns a catalogue row (money in yuan,
as `catalog.selectors.package_as_dict` gives it or `Package` fields hold it) into a `Tariff` of integers;
`charge` prices one profile with every part shown (the scalar reference); `charges` prices arrays of
profiles under a `TariffTable` of packages at once (customers × packages × months) with the same integers.

Units. Money is in fen (分, 1/100 元) as Python or int64 integers; yuan appear only at the edges (`tariff_of`
reads them, `to_yuan` writes them). Rates are in `RATE_UNIT` = 0.0001 元 (1/100 fen) per minute, MB or SMS:
the catalogue stores rates as DecimalField(decimal_places=4), so every rate it can hold is a whole number
of that unit and no catalogue row is ever refused; the facts' finest figure, 0.0003 元/KB, is 0.3 元/MB =
3000 units. Every shipped rate is in fact a whole number of fen (0.25 元/min = 2500 units = 25 fen), and a
part is only rounded when a rate is not: each overage part is rounded down to the fen (the customer's
favour, as the facts round the half allowance, §1.6). Inputs are whole minutes (§1.5: voice is billed per
started minute, so a caller rounds part minutes up before), whole MB and whole SMS.

The rules, with where they come from in ../shared/reference/telecom-facts.md:

1. Allowances, then overage (§1.2–1.5, §1.7, §1.8). The month costs the monthly fee, plus each of voice,
   data and SMS beyond the included amount at the package's out-of-package rate. Minutes of a C plan are
   its local minutes (§1.4): a profile does not tell local from long-distance, so every minute is charged
   at `voice_rate` (the catalogue's `long_distance_rate` is not used). Video calls are not in a profile.
   A data card carries no voice (the catalogue's blank `voice_scope`): its minutes cost nothing and the
   charge says so in a note.
2. Minimum spend (§1.7, the 沃3G预付费20元卡): the fee is a floor on the month's spend, not a charge on top:
   the month costs its usage at out-of-package rates, topped up to the fee when below (`Charge.top_up`),
   as the booklet tells the customer ("当月实际使用不足20元的，按20元收取"). The 6 元 caller-ID pack the
   facts place inside the 20 元 has no catalogue column and is not charged as usage.
3. Data cap (§1.7, §1.8, §1.10): where the package has `data_cap_mb`, data stops there for the month
   (switched off, restored next month), so no MB beyond it is used or charged. The handsets' 2012 charge
   cap (§1.10: data charges capped at 500 元) is supported as `data_charge_cap` (fen), read from an
   optional `data_charge_cap` key in yuan; the shipped catalogue has no such column, so it is off.
4. Data-card auto-upgrade (§1.8): when a data card's month (fee plus overage) reaches the next tier's fee,
   the month is billed at the next tier, and so on up the tiers; the chosen tier returns the next month
   (each month is priced on its own, so nothing carries over). `tariffs_of` gives every data card the
   dearer data cards of the same product in the rows it is given, in order of fee (the booklet tells every
   data-card customer this rule; the 50 元 student card "without auto-upgrade" is not in the catalogue).
5. The activation month (§1.6), by the option on the acceptance form (`first_month`):
   - `full` (全月套餐): as any month.
   - `half` (套餐减半): half the fee, rounded down to the fen, and half of each allowance rounded up
     (`half_allowance`, the booklet's own rounding: "rounded in the customer's favour"); rates unchanged.
   - `outside` (套餐包外资费): no fee and no allowance: all usage at out-of-package rates.
   Whatever the form says (and as the booklet tells these customers), two products have their own rule:
   - the 20元 card's activation month is charged on actual use, with no minimum (§1.7);
   - a data card's activation month is charged by the MB at its rate until that reaches the fee, then as
     the package (with auto-upgrade) (§1.8, "from 2010-05-01 … until usage reaches 80 元, then at the 80 元
     package"; the booklet uses the customer's own tier's fee, and so does this).
   That is why `first_month` has a fourth value, None (a regular month, the default): a regular month and
   the activation month under 全月套餐 differ only for those two products.
   The data cap and the charge cap apply in the activation month as in any month.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import numpy as np
import numpy.typing as npt

FEN_PER_YUAN: Final = 100
RATE_UNITS_PER_YUAN: Final = 10_000  # a rate unit is 0.0001 元 = 1/100 fen
RATE_UNITS_PER_FEN: Final = RATE_UNITS_PER_YUAN // FEN_PER_YUAN
RATE_UNIT: Final = "0.0001元"
# Bounds that keep every int64 sum in `charges` exact (1e9 × 1e8 = 1e17, far below 9.2e18): usage per month
# of a billion minutes/MB/SMS, rates of 10 000 元 a unit, fees and caps of 100 million 元.
MAX_USAGE: Final = 10**9
MAX_RATE: Final = 10**8
MAX_FEN: Final = 10**10

# The month a profile is priced for: a regular month, or the activation month with the form's option.
REGULAR: Final = 0
FULL: Final = 1
HALF: Final = 2
OUTSIDE: Final = 3
MONTH_KINDS: Final = (REGULAR, FULL, HALF, OUTSIDE)
_SPELLINGS: Final[Mapping[str, int]] = {
    "": REGULAR, "regular": REGULAR,
    "full": FULL, "全月": FULL, "全月套餐": FULL,
    "half": HALF, "减半": HALF, "套餐减半": HALF,
    "outside": OUTSIDE, "包外": OUTSIDE, "套餐包外资费": OUTSIDE, "包外资费": OUTSIDE,
}  # fmt: skip
FIRST_MONTH_LABELS: Final[Mapping[int, str]] = {
    REGULAR: "普通月份 / a regular month",
    FULL: "入网当月：全月套餐 / first month: full package",
    HALF: "入网当月：套餐减半 / first month: half fee, half allowance",
    OUTSIDE: "入网当月：套餐包外资费 / first month: out-of-package rates",
}

Int64Array = npt.NDArray[np.int64]
_NO_LIMIT: Final = np.iinfo(np.int64).max  # "no cap" in the arrays
# Elements (profiles × packages) priced at a time by `charges`: bounds the temporaries to a few MB each
# (the fastest size measured: 1M customers × 2 months × 26 packages in about 2 s on one core).
BLOCK_ELEMENTS = 1 << 18


def first_month_code(value: str | int | None) -> int:
    """REGULAR, FULL, HALF or OUTSIDE from None/"" (a regular month), full/half/outside (`FirstMonth`'s
    values), the form's words 全月套餐/套餐减半/套餐包外资费 or their short forms 全月/减半/包外, or a code."""
    if value is None:
        return REGULAR
    if isinstance(value, bool):
        raise ValueError(f"入网当月资费选项有误 / bad first-month option: {value!r}")
    if isinstance(value, int | np.integer):
        if int(value) in MONTH_KINDS:
            return int(value)
    elif isinstance(value, str) and value.strip().lower() in _SPELLINGS:
        return _SPELLINGS[value.strip().lower()]
    raise ValueError(
        f"入网当月资费选项有误 / bad first-month option: {value!r} (全月|减半|包外, full|half|outside)"
    )


def half_allowance(amount: int) -> int:
    """Half an allowance, rounded up: in the customer's favour (§1.6), as the booklet prints it."""
    return (amount + 1) // 2


def to_yuan(fen: int) -> Decimal:
    """Fen as yuan with two decimals: 5350 -> Decimal('53.50')."""
    return Decimal(int(fen)).scaleb(-2).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Tariff:
    """A package as integers: fee in fen, allowances in minutes/MB/SMS, rates in `RATE_UNIT` per unit.

    `upgrades` are the tiers a month may be billed at instead (data cards, §1.8), cheapest first; they
    carry no upgrades of their own.
    """

    code: str
    fee: int
    voice_min: int
    data_mb: int
    sms: int
    voice_rate: int
    data_rate: int
    sms_rate: int
    minimum_spend: bool = False
    data_cap_mb: int | None = None
    data_charge_cap: int | None = None
    datacard: bool = False
    voice: bool = True
    upgrades: tuple[Tariff, ...] = ()

    def __post_init__(self) -> None:
        numbers = {
            "fee": self.fee, "voice_min": self.voice_min, "data_mb": self.data_mb, "sms": self.sms,
            "voice_rate": self.voice_rate, "data_rate": self.data_rate, "sms_rate": self.sms_rate,
            "data_cap_mb": self.data_cap_mb, "data_charge_cap": self.data_charge_cap,
        }  # fmt: skip
        for name, value in numbers.items():
            if value is None and name in ("data_cap_mb", "data_charge_cap"):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"套餐 {self.code}: {name} 须为非负整数 / must be a whole number >= 0: {value!r}")
            if value > (MAX_RATE if name.endswith("_rate") else MAX_FEN):
                raise ValueError(f"套餐 {self.code}: {name} 超出范围 / out of range: {value!r}")
        if any(step.upgrades for step in self.upgrades):
            raise ValueError(f"套餐 {self.code}: an upgrade tier carries no upgrades of its own")


@dataclass(frozen=True)
class Charge:
    """One month's charge in fen: total = fee + voice_over + data_over + sms_over + top_up.

    `fee` is the fee charged on top of usage (0 for a minimum-spend card, whose fee is a floor: `top_up` is
    what brings the month up to it); `billed_as` is the tier the month was billed at (another code after
    a data card's auto-upgrade); `notes` say which rule changed the month, in Chinese and English.
    """

    fee: int
    voice_over: int
    data_over: int
    sms_over: int
    top_up: int
    total: int
    billed_as: str
    notes: tuple[str, ...] = field(default=())


# --- building tariffs from catalogue rows -------------------------------------------------------------


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what}: 不是数字 / not a number: {value!r}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"{what}: 不是数字 / not a number: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"{what}: 须为非负数 / must be a number >= 0: {value!r}")
    return number


def _scaled(value: Any, per_yuan: int, unit: str, what: str) -> int:
    """Yuan as a whole number of a unit (`per_yuan` of them to the yuan), refusing any remainder."""
    number = _decimal(value, what) * per_yuan
    if number != number.to_integral_value():
        raise ValueError(f"{what}: {value} 元不是整数个{unit} / is not a whole number of {unit}")
    return int(number)


def _count(value: Any, what: str) -> int:
    number = _decimal(0 if value is None else value, what)
    if number != number.to_integral_value():
        raise ValueError(f"{what}: 须为整数 / must be a whole number: {value!r}")
    return int(number)


def tariff_of(package_fields: Mapping[str, Any], *, upgrades: Sequence[Tariff] = ()) -> Tariff:
    """The `Tariff` of one catalogue row: `package_as_dict(p)`, or a mapping of `Package` field values.

    Reads code, monthly_fee, voice_min, data_mb, sms, voice_rate, data_rate, sms_rate (yuan: Decimal, int,
    str or float) and, when present, family, voice_scope, minimum_spend, data_cap_mb, data_charge_cap.
    A fee that is not whole fen, or a rate that is not a whole number of 0.0001 元, is refused.
    """
    code = str(package_fields.get("code") or "?")
    fee = _scaled(package_fields["monthly_fee"], FEN_PER_YUAN, "分", f"{code} monthly_fee")
    rates = {
        name: _scaled(package_fields[name], RATE_UNITS_PER_YUAN, RATE_UNIT, f"{code} {name}")
        for name in ("voice_rate", "data_rate", "sms_rate")
    }
    cap = package_fields.get("data_cap_mb")
    cap = _count(cap, f"{code} data_cap_mb") if cap not in (None, "") else 0
    charge_cap = package_fields.get("data_charge_cap")
    datacard = str(package_fields.get("family") or "") == "datacard"
    return Tariff(
        code=code,
        fee=fee,
        voice_min=_count(package_fields["voice_min"], f"{code} voice_min"),
        data_mb=_count(package_fields["data_mb"], f"{code} data_mb"),
        sms=_count(package_fields["sms"], f"{code} sms"),
        **rates,
        minimum_spend=bool(package_fields.get("minimum_spend") or False),
        data_cap_mb=cap or None,  # a cap of 0 reads as none, as the booklet reads it
        data_charge_cap=(
            None
            if charge_cap in (None, "")
            else _scaled(charge_cap, FEN_PER_YUAN, "分", f"{code} data_charge_cap")
        ),
        datacard=datacard,
        voice=not datacard and bool(str(package_fields.get("voice_scope", "national") or "").strip()),
        upgrades=tuple(upgrades),
    )


def tariffs_of(rows: Iterable[Mapping[str, Any]]) -> dict[str, Tariff]:
    """{code: Tariff} for catalogue rows, each data card given the dearer data cards of its product among
    `rows` as its auto-upgrade tiers (§1.8), cheapest first."""
    rows = list(rows)
    plain = {str(row["code"]): tariff_of(row) for row in rows}
    if len(plain) != len(rows):
        raise ValueError("套餐代码重复 / duplicate package codes")
    product = {str(row["code"]): str(row.get("product") or "") for row in rows}
    cards = sorted((t for t in plain.values() if t.datacard), key=lambda t: (t.fee, t.code))
    tariffs = dict(plain)
    for card in cards:
        dearer = [t for t in cards if t.fee > card.fee and product[t.code] == product[card.code]]
        if dearer:
            tariffs[card.code] = replace(card, upgrades=tuple(dearer))
    return tariffs


# --- the scalar reference ------------------------------------------------------------------------------


def _terms(tariff: Tariff, month: int) -> tuple[int, int, int, int, int]:
    """(fee charged, minimum spend floor, included minutes, MB, SMS) of a tariff in a kind of month.

    A data card's activation month is here its pay-by-the-MB part (no fee, no allowance); the switch to the
    package once that reaches the fee is made by the caller."""
    if tariff.datacard and month != REGULAR:
        return 0, 0, 0, 0, 0
    if tariff.minimum_spend:
        if month != REGULAR:  # the 20元 card's activation month: actual use, no floor (§1.7)
            return 0, 0, 0, 0, 0
        return 0, tariff.fee, tariff.voice_min, tariff.data_mb, tariff.sms
    if month == HALF:
        return (
            tariff.fee // 2, 0,
            half_allowance(tariff.voice_min), half_allowance(tariff.data_mb), half_allowance(tariff.sms),
        )  # fmt: skip
    if month == OUTSIDE:
        return 0, 0, 0, 0, 0
    return tariff.fee, 0, tariff.voice_min, tariff.data_mb, tariff.sms


def _fen(rate_units: int) -> int:
    """An amount in rate units as fen, rounded down (only a rate finer than 1 fen leaves a remainder)."""
    return rate_units // RATE_UNITS_PER_FEN


def _month(tariff: Tariff, month: int, minutes: int, data_mb: int, sms: int) -> Charge:
    fee, floor, voice_min, included_mb, included_sms = _terms(tariff, month)
    notes: list[str] = []
    voice_over = _fen(max(0, minutes - voice_min) * tariff.voice_rate)
    if minutes and not tariff.voice:
        notes.append("上网卡不能通话，通话分钟不计费 / a data card carries no voice: minutes not charged")
    used_mb = data_mb
    if tariff.data_cap_mb is not None and data_mb > tariff.data_cap_mb:
        used_mb = tariff.data_cap_mb
        notes.append(
            f"流量用满{tariff.data_cap_mb}MB停止上网，其余{data_mb - used_mb}MB不计费"
            f" / data stops at {tariff.data_cap_mb} MB: the other {data_mb - used_mb} MB are not charged"
        )
    data_over = _fen(max(0, used_mb - included_mb) * tariff.data_rate)
    if tariff.data_charge_cap is not None and data_over > tariff.data_charge_cap:
        data_over = tariff.data_charge_cap
        cap = to_yuan(tariff.data_charge_cap)
        notes.append(f"套外流量费封顶{cap}元 / data charges capped at {cap} 元")
    sms_over = _fen(max(0, sms - included_sms) * tariff.sms_rate)
    spend = fee + voice_over + data_over + sms_over
    top_up = max(0, floor - spend)
    if top_up:
        notes.append(
            f"月费{to_yuan(floor)}元为最低消费，补足{to_yuan(top_up)}元"
            f" / the fee is a minimum spend: {to_yuan(top_up)} 元 tops the month up to it"
        )
    return Charge(fee, voice_over, data_over, sms_over, top_up, spend + top_up, tariff.code, tuple(notes))


def _regular(tariff: Tariff, minutes: int, data_mb: int, sms: int) -> Charge:
    """A regular month, moved up the tiers while it reaches the next tier's fee (§1.8)."""
    bill = _month(tariff, REGULAR, minutes, data_mb, sms)
    for tier in tariff.upgrades:
        if bill.total < tier.fee:
            break
        upgraded = _month(tier, REGULAR, minutes, data_mb, sms)
        note = (
            f"当月费用{to_yuan(bill.total)}元达到{tier.code}月费{to_yuan(tier.fee)}元，自动按{tier.code}计费"
            f" / the month reached {tier.code}'s fee: billed as {tier.code}"
        )
        bill = replace(upgraded, notes=(*upgraded.notes, note))
    return bill


def _check_usage(**usage: Any) -> None:
    for name, value in usage.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"{name} 须为整数 / must be a whole number: {value!r}")
        if value < 0:
            raise ValueError(f"用量不能为负 / usage cannot be negative: {name}={value}")
        if value > MAX_USAGE:
            raise ValueError(f"用量超出范围 / usage out of range: {name}={value} (at most {MAX_USAGE})")


def charge(
    tariff: Tariff, *, minutes: int, data_mb: int, sms: int, first_month: str | int | None = None
) -> Charge:
    """One month of `minutes` (whole, started minutes), `data_mb` and `sms` under `tariff`.

    `first_month` None is a regular month; full/half/outside (or 全月/减半/包外) is the activation month
    with that option of the acceptance form (see the module's rules)."""
    _check_usage(minutes=minutes, data_mb=data_mb, sms=sms)
    minutes, data_mb, sms = int(minutes), int(data_mb), int(sms)
    month = first_month_code(first_month)
    if month == REGULAR:
        return _regular(tariff, minutes, data_mb, sms)
    if tariff.datacard:
        by_the_mb = _month(tariff, month, minutes, data_mb, sms)
        if by_the_mb.total < tariff.fee:
            note = (
                f"上网卡入网当月按流量计费，未达月费{to_yuan(tariff.fee)}元"
                f" / a data card's first month is charged by the MB until it reaches the fee"
            )
            return replace(by_the_mb, notes=(*by_the_mb.notes, note))
        bill = _regular(tariff, minutes, data_mb, sms)
        note = (
            f"上网卡入网当月按流量计费已达月费{to_yuan(tariff.fee)}元，按套餐计费"
            f" / a data card's first month reached the fee: billed as the package"
        )
        return replace(bill, notes=(*bill.notes, note))
    if tariff.minimum_spend:
        bill = _month(tariff, month, minutes, data_mb, sms)
        note = "入网当月按实际使用计费，不设最低消费 / the activation month is charged on actual use, no minimum"
        return replace(bill, notes=(*bill.notes, note))
    bill = _month(tariff, month, minutes, data_mb, sms)
    if month == HALF:
        fee, _floor, voice_min, included_mb, included_sms = _terms(tariff, month)
        note = (
            f"入网当月套餐减半：月费{to_yuan(fee)}元，含{voice_min}分钟、{included_mb}MB、{included_sms}条短信"
            f" / first month at half fee and half allowance (rounded up): {to_yuan(fee)} 元,"
            f" {voice_min} min, {included_mb} MB, {included_sms} SMS"
        )
        return replace(bill, notes=(note, *bill.notes))
    if month == OUTSIDE:
        note = "入网当月套餐包外资费：不收月费，全部按套外资费计费 / first month: no fee, all usage at out-of-package rates"
        return replace(bill, notes=(note, *bill.notes))
    return bill


# --- the vectorised engine ------------------------------------------------------------------------------


class TariffTable:
    """Packages as arrays for `charges`: one column per tariff, in the order given."""

    def __init__(self, tariffs: Iterable[Tariff]) -> None:
        self.tariffs: tuple[Tariff, ...] = tuple(tariffs)
        if not self.tariffs:
            raise ValueError("no tariffs")
        self.codes: tuple[str, ...] = tuple(t.code for t in self.tariffs)
        if len(set(self.codes)) != len(self.codes):
            raise ValueError("套餐代码重复 / duplicate package codes")
        self.fee: Int64Array = np.array([t.fee for t in self.tariffs], dtype=np.int64)
        self.datacard = np.array([t.datacard for t in self.tariffs], dtype=np.bool_)
        self.voice = np.array([t.voice for t in self.tariffs], dtype=np.bool_)

        every = [*self.tariffs, *(u for t in self.tariffs for u in t.upgrades)]
        rates = [r for t in every for r in (t.voice_rate, t.data_rate, t.sms_rate)]
        # Rates in fen when every rate is whole fen (the shipped catalogue): no division, same integers.
        self._scale = 1 if all(r % RATE_UNITS_PER_FEN == 0 for r in rates) else RATE_UNITS_PER_FEN
        self._capped = any(t.data_cap_mb is not None for t in every)
        self._charge_capped = any(t.data_charge_cap is not None for t in every)
        self._floored = any(t.minimum_spend for t in every)

        # (4 kinds of month, packages): what the month charges and includes.
        terms = np.array([[_terms(t, month) for t in self.tariffs] for month in MONTH_KINDS], dtype=np.int64)
        self._terms_by_month = tuple(np.ascontiguousarray(terms[..., k]) for k in range(5))
        self._rates = self._columns(self.tariffs)

        # Columns with a rule of their own: data cards (the activation month) and tiers (auto-upgrade).
        special = [i for i, t in enumerate(self.tariffs) if t.datacard or t.upgrades]
        self._special = np.array(special, dtype=np.intp)
        self._special_datacard = self.datacard[self._special]
        self._special_fee = self.fee[self._special]
        depth = max((len(self.tariffs[i].upgrades) for i in special), default=0)
        # Level 0 is each special column's own tariff, level k its k-th upgrade; a column with fewer
        # upgrades repeats its top tier in the levels above it, marked not valid: never moved up to.
        self._levels: list[tuple[Int64Array, ...]] = []
        self._level_valid: list[npt.NDArray[np.bool_]] = []
        for level in range(depth + 1):
            tiers = []
            valid = []
            for i in special:
                chain = (self.tariffs[i], *self.tariffs[i].upgrades)
                tiers.append(chain[min(level, len(chain) - 1)])
                valid.append(level < len(chain))
            regular = np.array([_terms(t, REGULAR) for t in tiers], dtype=np.int64).reshape(-1, 5)
            fees = np.array([t.fee for t in tiers], dtype=np.int64)
            self._levels.append((*regular.T, *self._columns(tiers), fees))
            self._level_valid.append(np.array(valid, dtype=np.bool_))

    def _columns(self, tariffs: Sequence[Tariff]) -> tuple[Int64Array, ...]:
        """Per-column rates (in fen or rate units, see `_scale`), data cap and data charge cap."""

        def column(values: Iterable[int]) -> Int64Array:
            return np.array(list(values), dtype=np.int64)

        return (
            column(t.voice_rate // (RATE_UNITS_PER_FEN // self._scale) for t in tariffs),
            column(t.data_rate // (RATE_UNITS_PER_FEN // self._scale) for t in tariffs),
            column(t.sms_rate // (RATE_UNITS_PER_FEN // self._scale) for t in tariffs),
            column(_NO_LIMIT if t.data_cap_mb is None else t.data_cap_mb for t in tariffs),
            column(_NO_LIMIT if t.data_charge_cap is None else t.data_charge_cap for t in tariffs),
        )

    def __len__(self) -> int:
        return len(self.tariffs)

    def index(self, code: str) -> int:
        return self.codes.index(code)

    def _price(
        self,
        minutes: Int64Array,
        data_mb: Int64Array,
        sms: Int64Array,
        terms: tuple[Int64Array, ...],
        columns: tuple[Int64Array, ...],
    ) -> Int64Array:
        """The month's charge with these terms (fee, floor, minutes, MB, SMS) and columns (rates and caps),
        broadcast: usage is (..., 1), terms and columns (..., packages) or (packages,)."""
        fee, floor, voice_min, included_mb, included_sms = terms
        voice_rate, data_rate, sms_rate, cap, charge_cap = columns

        def over(used: Int64Array, included: Int64Array, rate: Int64Array) -> Int64Array:
            part = np.subtract(used, included)
            np.maximum(part, 0, out=part)
            part *= rate
            if self._scale != 1:
                part //= self._scale
            return part

        total = over(minutes, voice_min, voice_rate)
        data = over(np.minimum(data_mb, cap) if self._capped else data_mb, included_mb, data_rate)
        if self._charge_capped:
            np.minimum(data, charge_cap, out=data)
        total += data
        total += over(sms, included_sms, sms_rate)
        total += fee
        if self._floored:
            np.maximum(total, floor, out=total)
        return total

    def _block(
        self, minutes: Int64Array, data_mb: Int64Array, sms: Int64Array, month: Int64Array
    ) -> Int64Array:
        """Charges of usage of shape S under every column: shape S + (packages,)."""
        usage = (minutes[..., None], data_mb[..., None], sms[..., None])
        if month.size and not any(month.strides):  # one kind of month for all (a scalar broadcast): its row
            kind = int(month.flat[0])
            terms = tuple(table[kind] for table in self._terms_by_month)  # (packages,)
        else:
            terms = tuple(table[month] for table in self._terms_by_month)  # each month's row: S + (packages,)
        total = self._price(*usage, terms, self._rates)
        if not self._special.size:
            return total
        # Auto-upgrade, top down: a tier's month stands unless it reaches the next tier's fee (§1.8).
        best: Int64Array | None = None
        for level in reversed(range(len(self._levels))):
            *regular, voice_rate, data_rate, sms_rate, cap, charge_cap, tier_fee = self._levels[level]
            here = self._price(*usage, tuple(regular), (voice_rate, data_rate, sms_rate, cap, charge_cap))
            if best is not None:
                next_fee = self._levels[level + 1][-1]
                reach = self._level_valid[level + 1] & (here >= next_fee)
                here = np.where(reach, best, here)
            best = here
        assert best is not None
        regular_month = month[..., None] == REGULAR
        own = total[..., self._special]  # the activation month by the MB, for data cards
        first = np.where(self._special_datacard & (own < self._special_fee), own, best)
        first = np.where(self._special_datacard, first, own)
        total[..., self._special] = np.where(regular_month, best, first)
        return total


def _usage(value: Any, name: str) -> Int64Array:
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise ValueError(f"{name} 须为整数数组 / must be whole numbers (an integer array), not {array.dtype}")
    if array.size and array.min() < 0:
        raise ValueError(f"用量不能为负 / usage cannot be negative: {name}")
    if array.size and array.max() > MAX_USAGE:
        raise ValueError(f"用量超出范围 / usage out of range: {name} (at most {MAX_USAGE})")
    return array.astype(np.int64, copy=False)


def _months(value: Any) -> Int64Array:
    """Month kinds as codes: a code or spelling, or an array of either (large arrays: pass codes)."""
    if value is None or isinstance(value, str | int):
        return np.asarray(first_month_code(value), dtype=np.int64)
    array = np.asarray(value)
    if array.dtype.kind in "iu":
        if array.size and (array.min() < REGULAR or array.max() > OUTSIDE):
            raise ValueError("入网当月资费选项有误 / bad first-month code (0 regular, 1 full, 2 half, 3 outside)")
        return array.astype(np.int64, copy=False)
    if array.dtype.kind == "O":
        array = np.array(["" if v is None else str(v) for v in array.ravel()], dtype=str).reshape(array.shape)
    if array.dtype.kind != "U":
        raise ValueError(f"入网当月资费选项有误 / bad first-month options: {array.dtype}")
    spellings, inverse = np.unique(array, return_inverse=True)
    codes = np.array([first_month_code(str(s)) for s in spellings], dtype=np.int64)
    return codes[inverse].reshape(array.shape)


def charges(
    tariffs: TariffTable,
    minutes: npt.ArrayLike,
    data_mb: npt.ArrayLike,
    sms: npt.ArrayLike,
    first_month: npt.ArrayLike | str | None = None,
) -> Int64Array:
    """Every profile's charge in fen under every tariff of the table: `charge(...).total`, element by element.

    `minutes`, `data_mb`, `sms` (integer arrays) and `first_month` (None/strings as for `charge`, or codes
    REGULAR/FULL/HALF/OUTSIDE: an array of codes is faster) broadcast together to a shape S, e.g.
    (customers, months); the result has the package axis inserted after the first: S[0] × packages ×
    S[1:] (customers × packages × months), or (packages,) for a single profile. The result is a view
    with the package axis moved into place; it is priced in blocks of `BLOCK_ELEMENTS` to bound memory.
    """
    arrays = np.broadcast_arrays(
        _usage(minutes, "minutes"), _usage(data_mb, "data_mb"), _usage(sms, "sms"), _months(first_month)
    )
    shape = arrays[0].shape
    out: Int64Array = np.empty((*shape, len(tariffs)), dtype=np.int64)
    if not shape:
        out[...] = tariffs._block(*arrays)
        return out
    per_row = len(tariffs) * math.prod(shape[1:])
    step = max(1, BLOCK_ELEMENTS // max(1, per_row))
    for start in range(0, shape[0], step):
        rows = slice(start, start + step)
        out[rows] = tariffs._block(*(a[rows] for a in arrays))
    return np.moveaxis(out, -1, 1)
