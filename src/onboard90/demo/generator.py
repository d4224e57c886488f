"""The synthetic province, as plain data: customers, their later facts, staff and how diligent each unit is.

Django-free and deterministic: the same seed and inputs give the same province, row for row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")

# Handset ranges of 2012 (telecom-facts 6.2); 186 was the flagship 3G range, 13x the migrated 2G ones.
MSISDN_PREFIXES = {"186": 34, "185": 9, "156": 14, "155": 8, "130": 13, "131": 11, "132": 11}
# A number changer (换号入网) mostly came over from China Mobile or China Telecom.
PREVIOUS_PREFIXES = {
    "134": 3, "135": 6, "136": 5, "137": 5, "138": 7, "139": 8, "150": 3, "151": 3, "152": 2, "158": 4,
    "159": 4, "182": 2, "187": 2, "188": 2, "133": 3, "153": 2, "180": 2, "189": 4, "130": 2, "131": 2,
}
# Package mix of new 3G customers: A66 the usual "普号" minimum, then the cheaper and the next tiers; the
# two prepaid products together about 12%. Codes missing from the catalogue are simply not drawn.
PACKAGE_WEIGHTS = {
    "A66": 26.0, "A46": 12.0, "A96": 9.0, "B66": 7.0, "A126": 5.5, "C46": 4.5, "B46": 3.5, "C66": 3.0,
    "A156": 2.6, "B96": 2.2, "A186": 1.8, "C96": 1.4, "B126": 1.0, "A226": 0.9, "A286": 0.6, "B156": 0.5,
    "A386": 0.4, "B186": 0.3, "A586": 0.15, "A886": 0.1, "P20": 7.0, "P36": 5.0,
}
HANDSET_OS = {"android": 52, "ios": 17, "symbian": 13, "windows": 4, "": 14}
FIRST_MONTH = {"全月": 58, "减半": 32, "包外": 10}
CONTRACT_PLANS = {"": 72, "预存话费送手机": 16, "购手机入网送话费": 12}
# Activations by local hour (stores open 08:30–20:30), busiest late morning and late afternoon.
HOUR_WEIGHTS = {8: 1, 9: 5, 10: 9, 11: 9, 12: 5, 13: 5, 14: 7, 15: 9, 16: 9, 17: 8, 18: 6, 19: 4, 20: 2}

VIP_SHARE = 0.08
NUMBER_CHANGE_SHARE = 0.15
OPT_OUT_SHARE = 0.05
CANCEL_SHARE = 0.01


@dataclasses.dataclass(frozen=True)
class UnitSpec:
    code: str
    kind: str  # store / club / account_manager_team / call_centre
    is_main: bool = False


@dataclasses.dataclass(frozen=True)
class CitySpec:
    code: str
    weight: int
    units: tuple[UnitSpec, ...]

    @property
    def stores(self) -> tuple[UnitSpec, ...]:
        return tuple(unit for unit in self.units if unit.kind == "store")

    def unit_of(self, kind: str) -> UnitSpec | None:
        return next((unit for unit in self.units if unit.kind == kind), None)


@dataclasses.dataclass(frozen=True)
class PackageSpec:
    code: str
    product: str  # postpaid / prepaid
    fee: Decimal


@dataclasses.dataclass(frozen=True)
class Province:
    """What the generator needs to know of the installed reference data."""

    cities: tuple[CitySpec, ...]
    packages: tuple[PackageSpec, ...]
    tiers: tuple[str, ...]  # enabled VIP tier codes, highest first


@dataclasses.dataclass(frozen=True)
class Activation:
    """One row of the customers file, as BSS would export it."""

    msisdn: str
    name: str
    city: str
    store: str
    activated_at: dt.datetime
    product: str
    package: str
    contract_plan: str
    previous_msisdn: str
    handset_os: str
    first_month: str
    marketing_opt_out: bool

    def row(self) -> dict[str, str]:
        return {
            "msisdn": self.msisdn,
            "name": self.name,
            "city": self.city,
            "store_code": self.store,
            "activated_at": stamp(self.activated_at),
            "product": self.product,
            "package_code": self.package,
            "contract_plan": self.contract_plan,
            "previous_msisdn": self.previous_msisdn,
            "handset_os": self.handset_os,
            "first_month": self.first_month,
            "marketing_opt_out": "1" if self.marketing_opt_out else "0",
        }


CUSTOMER_COLUMNS = (
    "msisdn", "name", "city", "store_code", "activated_at", "product", "package_code", "contract_plan",
    "previous_msisdn", "handset_os", "first_month", "marketing_opt_out",
)


@dataclasses.dataclass(frozen=True)
class Event:
    """A later fact about a customer, as a line of a BSS events file."""

    type: str  # vip_rated / bill_issued / cancellation
    msisdn: str
    at: dt.datetime
    fields: tuple[tuple[str, str], ...] = ()

    def document(self) -> dict[str, str]:
        fields = dict(self.fields)
        key = ":".join(["demo", self.type, self.msisdn, *([fields["bill_month"]] if "bill_month" in fields else [])])
        return {"type": self.type, "msisdn": self.msisdn, "at": stamp(self.at), "idempotency_key": key,
                **fields}


# The seven accounts the README lists for trying each role (password: the demo's): the first member of each
# 济南 team, the 济南 supervisor and the first clerk of 青岛's main store take these short names.
DEMO_LOGINS = {
    "jinan-supervisor": "supervisor",
    "jinan-store-1-clerk1": "clerk",
    "jinan-club1": "club",
    "jinan-agent1": "agent",
    "jinan-am1": "manager",
    "qingdao-store-1-clerk1": "clerk_qd",
}


@dataclasses.dataclass(frozen=True)
class StaffSpec:
    username: str
    role: str
    city: str
    unit: str | None
    display_name: str
    phone: str = ""  # work phone; account managers have one (the VIP notice gives it to their customers)


def stamp(instant: dt.datetime) -> str:
    return instant.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")


def local(day: dt.date, minutes: int) -> dt.datetime:
    """`minutes` after local midnight of `day`."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=TZ) + dt.timedelta(minutes=minutes)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _cumulative(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


class ProvinceGenerator:
    """Draws the province. Each concern has its own random stream, so changing one leaves the others."""

    def __init__(self, *, seed: int, province: Province):
        self.seed = seed
        self.province = province

    def _rng(self, purpose: str) -> random.Random:
        return random.Random(f"onboard90-demo:{self.seed}:{purpose}")

    def _faker(self, purpose: str):
        # optional extra (faker): installed with the tools, not with the product
        from faker import Faker

        fake = Faker("zh_CN")
        fake.seed_instance(f"{self.seed}:{purpose}")
        return fake

    # -- the organisation

    def diligence(self) -> dict[str, float]:
        """Per unit, the share of its work done on time (0.55–0.98): a city's culture plus the unit's own."""
        rng = self._rng("diligence")
        out = {}
        for city in self.province.cities:
            culture = rng.uniform(0.62, 0.94)
            for unit in city.units:
                out[unit.code] = round(min(0.98, max(0.55, culture + rng.gauss(0, 0.06))), 3)
        return out

    def staff(self) -> list[StaffSpec]:
        """Per city: 2–3 clerks a store, 2 club staff, 3–6 agents, 2–5 account managers, one supervisor.

        Everyone has a Chinese name; account managers also have a work phone (186/185, distinct).
        """
        rng = self._rng("staff")
        fake = self._faker("staff")
        # Phones have a random stream of their own: who the staff are and their names do not depend on it.
        phone_rng = self._rng("staff-phones")
        phones: set[str] = set()
        out: list[StaffSpec] = []

        def phone() -> str:
            while True:
                number = phone_rng.choice(["186", "185"]) + f"{phone_rng.randrange(10**8):08d}"
                if number not in phones:
                    phones.add(number)
                    return number

        def add(username: str, role: str, city: CitySpec, unit: UnitSpec | None) -> None:
            unit_code = unit.code if unit else None
            work_phone = phone() if role == "account_manager" else ""
            out.append(StaffSpec(username, role, city.code, unit_code, fake.name(), work_phone))

        for city in self.province.cities:
            for store in city.stores:
                for n in range(1, rng.randint(2, 3) + 1):
                    add(f"{store.code}-clerk{n}", "store_clerk", city, store)
            teams = [("club", "club_staff", "club", (2, 2)), ("call_centre", "call_centre_agent", "agent", (3, 6)),
                     ("account_manager_team", "account_manager", "am", (2, 5))]
            for kind, role, label, (low, high) in teams:
                unit = city.unit_of(kind)
                if unit is None:
                    continue
                for n in range(1, rng.randint(low, high) + 1):
                    add(f"{city.code}-{label}{n}", role, city, unit)
            add(f"{city.code}-supervisor", "supervisor", city, None)
        return [dataclasses.replace(spec, username=DEMO_LOGINS.get(spec.username, spec.username)) for spec in out]

    # -- customers and their facts

    def customers(self, *, count: int, first_day: dt.date, last_day: dt.date) -> tuple[list[Activation], list[Event]]:
        """`count` activations spread over first_day..last_day, and every later fact about them."""
        rng = self._rng("customers")
        fake = self._faker("names")
        cities = self.province.cities
        city_cum = _cumulative([max(city.weight, 0) or 1 for city in cities])
        store_cum = {}
        for city in cities:
            # The main store takes the most activations; the others differ in size.
            sizes = [3.0 if store.is_main else rng.uniform(0.6, 1.6) for store in city.stores]
            store_cum[city.code] = _cumulative(sizes)
        days = [first_day + dt.timedelta(days=i) for i in range((last_day - first_day).days + 1)]
        # Weekends are busier, and the business grows a little over the period.
        day_cum = _cumulative(
            [(1.3 if day.weekday() >= 5 else 1.0) * (1 + 0.2 * i / max(len(days) - 1, 1)) for i, day in enumerate(days)]
        )
        packages = {p.code: p for p in self.province.packages}
        mix = {code: weight for code, weight in PACKAGE_WEIGHTS.items() if code in packages}
        if not mix:  # an operator's own catalogue: draw evenly from its handset packages
            mix = {p.code: 1.0 for p in self.province.packages if not p.code.startswith("D")}
        hours = list(HOUR_WEIGHTS)
        hour_cum = _cumulative(list(HOUR_WEIGHTS.values()))

        taken: set[str] = set()
        drafts = []
        for _ in range(count):
            city = cities[_bisect(city_cum, rng.random() * city_cum[-1])]
            stores = city.stores
            store = stores[_bisect(store_cum[city.code], rng.random() * store_cum[city.code][-1])]
            day = days[_bisect(day_cum, rng.random() * day_cum[-1])]
            hour = hours[_bisect(hour_cum, rng.random() * hour_cum[-1])]
            minute = rng.randint(30, 59) if hour == 8 else rng.randint(0, 59) if hour < 20 else rng.randint(0, 30)
            activated_at = local(day, hour * 60 + minute) + dt.timedelta(seconds=rng.randint(0, 59))
            msisdn = self._msisdn(rng, taken)
            package = packages[_pick(rng, mix)]
            previous = self._previous(rng, taken) if rng.random() < NUMBER_CHANGE_SHARE else ""
            drafts.append(
                Activation(
                    msisdn=msisdn,
                    name=fake.name(),
                    city=city.code,
                    store=store.code,
                    activated_at=activated_at,
                    product=package.product,
                    package=package.code,
                    contract_plan=_pick(rng, CONTRACT_PLANS) if package.product == "postpaid" else "",
                    previous_msisdn=previous,
                    handset_os=_pick(rng, HANDSET_OS),
                    first_month=_pick(rng, FIRST_MONTH),
                    marketing_opt_out=rng.random() < OPT_OUT_SHARE,
                )
            )
        drafts.sort(key=lambda a: (a.activated_at, a.msisdn))
        events = self._events(drafts, packages)
        return drafts, events

    @staticmethod
    def _msisdn(rng: random.Random, taken: set[str]) -> str:
        while True:
            number = _pick(rng, MSISDN_PREFIXES) + f"{rng.randrange(10**8):08d}"
            if number not in taken:
                taken.add(number)
                return number

    @staticmethod
    def _previous(rng: random.Random, taken: set[str]) -> str:
        while True:
            number = _pick(rng, PREVIOUS_PREFIXES) + f"{rng.randrange(10**8):08d}"
            if number not in taken:
                return number

    def _events(self, activations: list[Activation], packages: dict[str, PackageSpec]) -> list[Event]:
        rng = self._rng("events")
        events: list[Event] = []
        cancelled_at: dict[str, dt.datetime] = {}
        for activation in activations:
            if rng.random() < CANCEL_SHARE:
                day = activation.activated_at.date() + dt.timedelta(days=rng.randint(3, 85))
                at = local(day, rng.randint(9 * 60 + 30, 18 * 60))
                cancelled_at[activation.msisdn] = at
                events.append(Event("cancellation", activation.msisdn, at))
        events.extend(self._vip_ratings(rng, activations, packages, cancelled_at))
        events.extend(self._first_bills(rng, activations, packages, cancelled_at))
        events.sort(key=lambda e: (e.at, e.msisdn, e.type))
        return events

    def _vip_ratings(self, rng, activations, packages, cancelled_at) -> list[Event]:
        """About 8% of customers, post-paid only, the dearer packages far likelier; most rated by day 3."""
        tiers = self.province.tiers
        if not tiers:
            return []
        eligible = [a for a in activations if a.product == "postpaid"]
        wanted = min(len(eligible), round(VIP_SHARE * len(activations)))

        def weight(activation: Activation) -> float:
            fee = packages[activation.package].fee
            return 12 if fee >= 286 else 8 if fee >= 186 else 5 if fee >= 126 else 2.5 if fee >= 96 else 1 if fee >= 66 else 0.4

        # Weighted sampling without replacement (Efraimidis–Spirakis): the `wanted` largest u^(1/w).
        keyed = sorted(eligible, key=lambda a: (-math.log(rng.random() or 1e-12) / weight(a), a.msisdn))
        out = []
        for activation in sorted(keyed[:wanted], key=lambda a: (a.activated_at, a.msisdn)):
            fee = packages[activation.package].fee
            high, mid, low = tiers[0], tiers[len(tiers) // 2], tiers[-1]
            draw = rng.random()
            if fee >= 386:
                tier = high if draw < 0.7 else mid
            elif fee >= 186:
                tier = high if draw < 0.15 else mid if draw < 0.75 else low
            elif fee >= 96:
                tier = mid if draw < 0.4 else low
            else:
                tier = mid if draw < 0.15 else low
            draw = rng.random()
            offset = 0 if draw < 0.45 else 1 if draw < 0.6 else 2 if draw < 0.68 else 3 if draw < 0.72 else (
                rng.randint(4, 9) if draw < 0.8 else rng.randint(11, 45))
            if offset == 0:
                at = activation.activated_at + dt.timedelta(minutes=rng.randint(20, 180))
                if at.date() != activation.activated_at.date():
                    at = local(activation.activated_at.date(), 23 * 60 + 30)
            else:
                at = local(activation.activated_at.date() + dt.timedelta(days=offset), rng.randint(8 * 60, 21 * 60))
            if activation.msisdn in cancelled_at and at >= cancelled_at[activation.msisdn]:
                continue
            out.append(Event("vip_rated", activation.msisdn, at, (("vip_level", tier),)))
        return out

    @staticmethod
    def _first_bills(rng, activations, packages, cancelled_at) -> list[Event]:
        """Post-paid customers get their first bill in the small hours of the 1st of the next month."""
        out = []
        for activation in activations:
            if activation.product != "postpaid":
                continue
            day = activation.activated_at.date()
            month_after = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
            at = local(month_after, rng.randint(2 * 60, 6 * 60 - 1))
            if activation.msisdn in cancelled_at and at >= cancelled_at[activation.msisdn]:
                continue
            fee = packages[activation.package].fee
            if activation.first_month == "减半":
                base = fee / 2
            elif activation.first_month == "包外":
                base = Decimal(rng.randint(8, max(9, int(fee))))  # no fee; usage at out-of-package rates
            else:
                base = fee
            extra = Decimal(str(round(rng.expovariate(1 / 12), 2))) if rng.random() < 0.35 else Decimal(0)
            amount = (base + extra).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            out.append(Event("bill_issued", activation.msisdn, at,
                             (("bill_month", day.strftime("%Y-%m")), ("amount", str(amount)))))
        return out


def _bisect(cumulative: list[float], value: float) -> int:
    lo, hi = 0, len(cumulative) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cumulative[mid] <= value:
            lo = mid + 1
        else:
            hi = mid
    return lo


# --- simulated staff ------------------------------------------------------------------------------------

WORK_START, WORK_END = 9 * 60 + 30, 20 * 60 + 30  # minutes of the local day when staff record work


@dataclasses.dataclass(frozen=True)
class Attempt:
    day: dt.date
    minute: int
    outcome: str

    @property
    def at(self) -> dt.datetime:
        return local(self.day, self.minute)


def task_plan(
    *, seed: int, msisdn: str, action_code: str, diligence: float, created_on: dt.date, due_on: dt.date,
    max_attempts: int,
) -> tuple[Attempt, ...]:
    """What staff will do with one task: the attempts they make, in order (empty: it is never worked).

    On time with probability `diligence`; otherwise late or never in about equal parts. A call (more
    than one attempt allowed) is sometimes not answered first, and a few numbers are wrong or refuse.
    """
    rng = random.Random(f"onboard90-demo:{seed}:task:{msisdn}:{action_code}")
    window = max((due_on - created_on).days, 0)
    calls = max_attempts > 1
    draw = rng.random()
    if draw < diligence:
        # Counter work is mostly done the day it appears; calls spread over the window, early first.
        if not calls and rng.random() < 0.7:
            offset = 0
        else:
            offset = min(window, int(rng.expovariate(0.45)))
        final = created_on + dt.timedelta(days=offset)
    elif draw < diligence + (1 - diligence) * 0.55:
        final = due_on + dt.timedelta(days=1 + min(20, int(rng.expovariate(0.3))))
    else:
        if calls and rng.random() < 0.5:  # called every time, never reached: missed as unreachable
            tries = [
                Attempt(min(due_on, created_on + dt.timedelta(days=n)), rng.randint(WORK_START, WORK_END),
                        rng.choice(("no_answer", "no_answer", "busy")))
                for n in range(max_attempts)
            ]
            return tuple(sorted(tries, key=lambda a: (a.day, a.minute)))
        return ()
    attempts: list[Attempt] = []
    if calls:
        failures = 0
        if rng.random() < 0.3:
            failures = 2 if max_attempts > 2 and rng.random() < 0.3 else 1
        last_minute = rng.randint(WORK_START + 60, WORK_END)
        for n in range(failures, 0, -1):
            day = max(created_on, final - dt.timedelta(days=n))
            minute = last_minute - 30 * n if day == final else rng.randint(WORK_START, WORK_END)
            attempts.append(Attempt(day, minute, rng.choice(("no_answer", "no_answer", "busy"))))
        closing = rng.random()
        outcome = "wrong_number" if closing < 0.03 else "refused" if closing < 0.07 else "reached"
        attempts.append(Attempt(final, last_minute, outcome))
    else:
        attempts.append(Attempt(final, rng.randint(WORK_START, WORK_END), "reached"))
    return tuple(sorted(attempts, key=lambda a: (a.day, a.minute)))


# --- simulated customers' replies -------------------------------------------------------------------------

# What customers answer the plan's SMS with (上行短信), by the act whose SMS they answer: the survey's score
# (mostly content, said a few ways: "5", "5分", a full-width "５"), a yes to the value-added offer, now and then
# 退订 (the offer is marketing: it is what people opt out from), and a few words nobody can take for anything.
SURVEY_ANSWER_SHARE = 0.45
SURVEY_SCORES = {5: 40, 4: 30, 3: 15, 2: 8, 1: 7}
OFFER_YES_SHARE = 0.12
OFFER_TD_SHARE = 0.03
TD_SHARE = 0.006  # on any other of the plan's SMS
UNMATCHED_SHARE = 0.004
UNMATCHED_WORDS = ("谢谢", "好的，知道了", "怎么查流量？", "收到", "你们营业厅几点关门")
LAST_REPLY_MINUTE = 22 * 60  # nobody replies to the day's SMS after 22:00 in the simulation


@dataclasses.dataclass(frozen=True)
class Reply:
    at: dt.datetime
    msisdn: str
    text: str


def reply_to(*, seed: int, msisdn: str, action_code: str, sent_at: dt.datetime) -> Reply | None:
    """The customer's answer to one SMS of the plan (None: most say nothing), minutes to hours after it left,
    on the same day. Drawn from the customer and the act, so it does not depend on ids or on the gateway."""
    rng = random.Random(f"onboard90-demo:{seed}:reply:{msisdn}:{action_code}")
    draw = rng.random()
    if action_code == "onboarding_survey":
        if draw >= SURVEY_ANSWER_SHARE:
            return None
        score = int(_pick(rng, {str(k): v for k, v in SURVEY_SCORES.items()}))
        text = rng.choice((str(score), f"{score}分", chr(0xFF10 + score)))
    elif action_code == "vas_recommendation":
        if draw < OFFER_YES_SHARE:
            text = rng.choice(("1", "是"))
        elif draw < OFFER_YES_SHARE + OFFER_TD_SHARE:
            text = rng.choice(("TD", "退订", "td"))
        else:
            return None
    elif draw < TD_SHARE:
        text = rng.choice(("TD", "退订"))
    elif draw < TD_SHARE + UNMATCHED_SHARE:
        text = rng.choice(UNMATCHED_WORDS)
    else:
        return None
    sent = sent_at.astimezone(TZ)
    minutes = sent.hour * 60 + sent.minute + 1 + min(int(rng.expovariate(1 / 45)), 8 * 60)
    at = local(sent.date(), min(minutes, LAST_REPLY_MINUTE))
    return Reply(max(at, sent_at + dt.timedelta(minutes=1)), msisdn, text)
