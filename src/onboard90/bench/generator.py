"""A province's open journeys as the daily cycle would have left them, generated column-wise with NumPy.

The model (every draw is vectorised; nothing here holds a Python object per journey beyond the row
tuples handed to the database driver in chunks):

* The measured cycle runs on day T; the last cycle that ran is T-1 (B). Journeys are activated on
  T-91 … T: the cohort of T was loaded this morning and has nothing yet; the cohort of T-91 ends in the
  measured cycle. `daily` customers activate on every day that has work falling due on T ("hot" ages,
  derived from the playbook's windows); the rest of N is spread evenly over the remaining days.
* Customers: 17 cities by weight, stores within the city, ~13 % prepaid, packages weighted (A66 the
  most common), ~8 % VIP (post-paid only) rated on day 1–3 and given a manager by that day's cycle,
  ~15 % number changers, first bills on day 25–31 for post-paid, ~6 % marketing opt-out.
* Every act whose opening day is ≤ B was opened by the cycle of that day, with its task and SMS. Staff
  work the tasks: 80 % on time, 10 % late (those were marked overdue and escalated), 4 % closed missed
  as unreachable, 6 % still running (overdue, escalated, once the window has ended). SMS went out at
  the cycle that queued them; an SMS-only act is done then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from onboard90.core import clock
from onboard90.journeys.rules import audience as aud
from onboard90.journeys.rules.assignment import UnitRow, owner_unit

NULL_DAY = -(10**6)  # "no date" in the day-offset arrays
JOURNEY_AGES = 92  # ages 0 … 91 on T
BLOCK = 2_000_000  # customers drawn at once (a province's worth): the build's memory grows with this

# Package mix (post-paid): A66 the most common; data cards rare.
POSTPAID_MIX = {
    "A46": 14, "A66": 26, "A96": 12, "A126": 6, "A156": 3, "A186": 2, "A226": 1, "A286": 1, "A386": 0.5,
    "A586": 0.3, "A886": 0.2, "B46": 6, "B66": 7, "B96": 3, "B126": 1.5, "B156": 0.5, "B186": 0.5,
    "C46": 4, "C66": 4, "C96": 2, "D80": 2, "D150": 1, "D200": 0.5, "D300": 0.3,
}
PREPAID_MIX = {"P20": 60, "P36": 40}
PREPAID_SHARE = 0.13
VIP_SHARE = 0.08
NUMBER_CHANGED_SHARE = 0.15
OPT_OUT_SHARE = 0.06
VIP_RATED_DAYS = (1, 3)
FIRST_BILL_DAYS = (25, 31)
HANDSETS = (("android", 0.55), ("ios", 0.2), ("symbian", 0.12), ("windows", 0.03), ("other", 0.03), ("", 0.07))
FIRST_MONTHS = (("full", 0.6), ("half", 0.3), ("outside", 0.1))
# Task outcomes: on time, late, missed (unreachable), still running.
TASK_OUTCOMES = (0.80, 0.10, 0.04, 0.06)
SURNAMES = list("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰文辉力鹏飞斌宇浩凯")


@dataclass
class Reference:
    """What the generator needs from the installed reference data (ids and small lookups)."""

    today: dt.date
    city_ids: np.ndarray
    city_weights: np.ndarray
    city_codes: list[str]
    stores_by_city: dict[int, list[int]]
    units_by_city: dict[int, list[UnitRow]]  # city id -> its units as (id, kind, is_main)
    managers_by_city: dict[int, list[int]]
    supervisor_by_city: dict[int, int | None]
    packages: dict[str, dict[str, Any]]  # code -> {id, family, product, monthly_fee}
    tiers: list[tuple[int, str, int]]  # (id, code, rank)
    playbook: Any
    version_id: int


@dataclass
class Table:
    """One table's rows, column-wise: name, column names and a chunked row iterator."""

    name: str
    columns: list[str]
    rows: Callable[[], Iterator[list[tuple]]]
    count: int = 0


@dataclass
class Built:
    tables: list[Table] = field(default_factory=list)
    journeys: int = 0
    expected_due: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    future: dict[int, dict] = field(default_factory=dict)


class Formats:
    """Day offsets (relative to T) → the text the backend stores for a date or an instant."""

    def __init__(self, today: dt.date, vendor: str, lo: int = -220, hi: int = 120):
        self.today, self.vendor, self.lo, self.hi = today, vendor, lo, hi
        self._cache: dict[tuple, np.ndarray] = {}

    def _table(self, key: tuple, make: Callable[[dt.date], str]) -> np.ndarray:
        if key not in self._cache:
            days = [self.today + dt.timedelta(days=i) for i in range(self.lo, self.hi + 1)]
            self._cache[key] = np.array([make(d) for d in days] + [None], dtype=object)
        return self._cache[key]

    def _lookup(self, table: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        idx = np.where(offsets == NULL_DAY, len(table) - 1, offsets - self.lo)
        return table[idx]

    def date(self, offsets: np.ndarray) -> np.ndarray:
        return self._lookup(self._table(("date",), lambda d: d.isoformat()), offsets)

    def instant_text(self, value: dt.datetime) -> str:
        utc = value.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
        return f"{utc.isoformat(sep=' ')}+00" if self.vendor == "postgresql" else utc.isoformat(sep=" ")

    def instant(self, offsets: np.ndarray, hour: int, minute: int = 0, second: int = 0) -> np.ndarray:
        table = self._table(
            ("at", hour, minute, second), lambda d: self.instant_text(clock.at_local(d, hour, minute, second))
        )
        return self._lookup(table, offsets)

    def shifted(self, offsets: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Local midnight of each day offset plus a number of seconds, as instant text (vectorised)."""
        midnight = clock.at_local(self.today).astimezone(dt.UTC).replace(tzinfo=None)
        stamps = np.datetime64(midnight, "s") + offsets.astype("timedelta64[D]") + seconds.astype("timedelta64[s]")
        text = np.char.replace(np.datetime_as_string(stamps, unit="s"), "T", " ")
        if self.vendor == "postgresql":
            text = np.char.add(text, "+00")
        return text.astype(object)

    def bool(self, values: np.ndarray) -> np.ndarray:
        return values.astype(bool) if self.vendor == "postgresql" else values.astype(np.int8)


def hot_ages(playbook) -> set[int]:
    """Ages (on T) of the cohorts that have work falling due on T: window starts, overdue marks, the end."""
    hot = {0, playbook.journey_days + 1}
    lag = {"activation": [0], "vip_rated": list(range(VIP_RATED_DAYS[0], VIP_RATED_DAYS[1] + 1)),
           "manager_assigned": list(range(VIP_RATED_DAYS[0], VIP_RATED_DAYS[1] + 1)),
           "bill_issued": list(range(FIRST_BILL_DAYS[0], FIRST_BILL_DAYS[1] + 1))}
    for action in playbook.actions:
        for base in lag.get(action.window.anchor, []):
            hot.update({base + action.window.start, base + action.window.end + 1})
    return {a for a in hot if 0 <= a < JOURNEY_AGES}


def cohort_sizes(n: int, daily: int | None, playbook) -> np.ndarray:
    """Journeys per age 0 … 91: `daily` on the hot ages, the rest of n spread over the others."""
    if daily is None:
        sizes = np.full(JOURNEY_AGES, n // JOURNEY_AGES, dtype=np.int64)
        sizes[: n % JOURNEY_AGES] += 1
        return sizes
    hot = sorted(hot_ages(playbook))
    rest = n - daily * len(hot)
    if rest < 0:
        raise ValueError(
            f"--daily {daily} 需要至少 {daily * len(hot)} 个旅程 / needs at least {daily * len(hot)} journeys "
            f"({len(hot)} activation days have work due on the measured day); raise --journeys or lower --daily"
        )
    cold = [a for a in range(JOURNEY_AGES) if a not in hot]
    sizes = np.zeros(JOURNEY_AGES, dtype=np.int64)
    sizes[hot] = daily
    sizes[cold] = rest // len(cold)
    sizes[cold[: rest % len(cold)]] += 1
    return sizes


def _choice(rng, n: int, options, weights) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(np.asarray(options), size=n, p=p / p.sum())


def _owners(ref: Reference, channel: str, stores: np.ndarray) -> np.ndarray:
    """The unit owning a `channel` task of each customer, given the customers' stores: the assignment rule
    (`rules.assignment.owner_unit`) once per store, as a customer's store is one of its city's."""
    by_store = {
        store_id: owner_unit(channel, store_id=store_id, city_units=ref.units_by_city.get(city_id, []))
        for city_id, city_stores in ref.stores_by_city.items()
        for store_id in city_stores
    }
    keys = np.array(sorted(by_store), dtype=np.int64)
    owners = np.array([by_store[key] for key in keys.tolist()], dtype=np.int64)
    return owners[np.searchsorted(keys, stores)]


class Facts:
    """The customers' facts as arrays, for the vectorised audience evaluation."""

    def __init__(self, **arrays: np.ndarray):
        self.arrays = arrays

    def value(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def evaluate(self, node) -> np.ndarray | bool:
        if isinstance(node, aud.Const):
            return node.value
        if isinstance(node, aud.Flag):
            return self.value(node.name)
        if isinstance(node, aud.Not):
            inner = self.evaluate(node.operand)
            return (not inner) if isinstance(inner, bool) else ~inner
        if isinstance(node, aud.And | aud.Or):
            parts = [self.evaluate(op) for op in node.operands]
            out = np.ones(self.n, bool) if isinstance(node, aud.And) else np.zeros(self.n, bool)
            for part in parts:
                out = (out & part) if isinstance(node, aud.And) else (out | part)
            return out
        if isinstance(node, aud.Compare):
            col = self.value(node.name)
            ops = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
                   ">": np.greater, ">=": np.greater_equal}
            return ops[node.op](col, node.value)
        if isinstance(node, aud.In):
            hit = np.isin(self.value(node.name), list(node.values))
            return ~hit if node.negated else hit
        raise TypeError(f"audience node {node!r}")

    @property
    def n(self) -> int:
        return len(self.arrays["vip"])

    def mask(self, text: str) -> np.ndarray:
        result = self.evaluate(aud.parse(text))
        if isinstance(result, bool):
            return np.full(self.n, result)
        return np.asarray(result, dtype=bool)


# Slices, not core.bulk.chunks(range(n)): lists refuse a range index and NumPy copies one (fancy indexing).
def _chunks(n: int, size: int = 100_000):
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _rows(columns: list[np.ndarray | list]) -> Callable[[], Iterator[list[tuple]]]:
    def make() -> Iterator[list[tuple]]:
        n = len(columns[0])
        for part in _chunks(n):
            yield list(zip(*(c[part].tolist() if isinstance(c, np.ndarray) else c[part] for c in columns),
                           strict=True))

    return make


def build(
    ref: Reference, out: Built, *, n: int, daily: int | None, vendor: str, seed: int = 2012, first_id: int = 1,
    horizon: int = 1, block: int = BLOCK,
) -> Iterator[Table]:
    """The tables' rows in insertion order (customers, journeys, bills, then per act); fills `out` as it goes."""
    rng = np.random.default_rng(seed)
    fmt = Formats(ref.today, vendor)
    playbook = ref.playbook
    out.journeys = n
    sizes = cohort_sizes(n, daily, playbook)
    # Later days of a --days run: their new customers, loaded before their own cycle (ages < 0 on T).
    future = np.full(horizon - 1, daily if daily is not None else n // JOURNEY_AGES, dtype=np.int64)
    # Ids follow arrival, as daily loads assign them: oldest activation day first.
    age = np.repeat(np.arange(JOURNEY_AGES - 1, -horizon, -1), np.concatenate([sizes[::-1], future]))
    ids = np.arange(first_id, first_id + age.size, dtype=np.int64)
    counts = out.counts
    counts.update({"customers": n, "bills": 0, "actions": 0, "tasks": 0, "sms": 0, "escalations": 0,
                   "vip_rated_today": 0, "closing": int((age == 91).sum()), "new_today": int((age == 0).sum())})
    # Block by block in arrival order, so that the build's memory follows the block, not the file; one
    # block (the usual province) draws exactly what one pass over all the customers would.
    next_ids = _NextIds(first_id, first_id, first_id, first_id)
    for part in _chunks(age.size, block):
        yield from _cohorts(ref, out, rng=rng, fmt=fmt, age=age[part], ids=ids[part], horizon=horizon,
                            next_ids=next_ids)
    for events in out.future.values():
        for key, value in events.items():
            events[key] = (value[0], _chained(value[1])) if isinstance(value, tuple) else _chained(value)


def _chained(makers: list[Callable[[], Iterator[list[tuple]]]]) -> Callable[[], Iterator[list[tuple]]]:
    """Several blocks' row sources as one."""

    def make() -> Iterator[list[tuple]]:
        for rows in makers:
            yield from rows()

    return make


@dataclass
class _NextIds:
    """The next act, task, message and escalation ids, carried from one block of customers to the next."""

    action: int
    task: int
    sms: int
    esc: int


def _cohorts(
    ref: Reference, out: Built, *, rng: np.random.Generator, fmt: Formats, age: np.ndarray, ids: np.ndarray,
    horizon: int, next_ids: _NextIds,
) -> Iterator[Table]:
    """One block of customers (consecutive ids, so consecutive arrivals) and everything the cycles gave them."""
    playbook = ref.playbook
    n = ids.size
    act = -age  # activation day offset relative to T

    # --- customers -----------------------------------------------------------------------------------
    city = _choice(rng, n, ref.city_ids, ref.city_weights)
    store = np.empty(n, dtype=np.int64)
    for cid, stores in ref.stores_by_city.items():
        sel = np.flatnonzero(city == cid)
        store[sel] = np.asarray(stores)[rng.integers(0, len(stores), sel.size)]
    prepaid = rng.random(n) < PREPAID_SHARE
    pkg_codes = np.where(
        prepaid, _choice(rng, n, list(PREPAID_MIX), list(PREPAID_MIX.values())),
        _choice(rng, n, list(POSTPAID_MIX), list(POSTPAID_MIX.values())),
    )
    pk = ref.packages
    package_id = np.vectorize(lambda c: pk[c]["id"], otypes=[np.int64])(pkg_codes) if n else np.zeros(0, np.int64)
    package_family = np.array([pk[c]["family"] for c in pk], dtype=object)
    code_index = {c: i for i, c in enumerate(pk)}
    pkg_idx = np.array([code_index[c] for c in pkg_codes.tolist()], dtype=np.int64) if n else np.zeros(0, np.int64)
    fees = np.array([float(pk[c]["monthly_fee"]) for c in pk])
    product = np.where(prepaid, "prepaid", "postpaid")
    vip_ever = ~prepaid & (rng.random(n) < VIP_SHARE / (1 - PREPAID_SHARE))
    rated_age = rng.integers(VIP_RATED_DAYS[0], VIP_RATED_DAYS[1] + 1, n)
    vip = vip_ever & (age >= rated_age)
    rated_on = np.where(vip, act + rated_age, NULL_DAY)
    # The cycle that saw the rating assigned a manager the same day; today's ratings are still waiting.
    tier_pick = rng.integers(0, len(ref.tiers), n)
    tier_id = np.array([t[0] for t in ref.tiers], dtype=np.int64)[tier_pick]
    tier_code = np.array([t[1] for t in ref.tiers], dtype=object)[tier_pick]
    tier_rank = np.array([t[2] for t in ref.tiers], dtype=np.int64)[tier_pick]
    manager = np.zeros(n, dtype=np.int64)
    for cid, managers in ref.managers_by_city.items():
        sel = np.flatnonzero(city == cid)
        if managers:
            manager[sel] = np.asarray(managers)[rng.integers(0, len(managers), sel.size)]
    assigned = vip & (rated_on < 0) & (manager > 0)
    manager_on_db = np.where(assigned, rated_on, NULL_DAY)
    # …and the measured cycle assigns today's: anchors as they will be when vip_first_callback opens.
    manager_on_eff = np.where(vip & (manager > 0), rated_on, NULL_DAY)
    number_changed = rng.random(n) < NUMBER_CHANGED_SHARE
    opt_out = rng.random(n) < OPT_OUT_SHARE
    bill_age = rng.integers(FIRST_BILL_DAYS[0], FIRST_BILL_DAYS[1] + 1, n)
    billed = ~prepaid & (age >= bill_age)
    bill_on = np.where(billed, act + bill_age, NULL_DAY)
    handset = _choice(rng, n, [h for h, _ in HANDSETS], [w for _, w in HANDSETS])
    first_month = _choice(rng, n, [f for f, _ in FIRST_MONTHS], [w for _, w in FIRST_MONTHS])
    city_code = np.array(ref.city_codes, dtype=object)[np.searchsorted(ref.city_ids, city)] if n else city

    facts = Facts(
        vip=vip, number_changed=number_changed, marketing_opt_out=opt_out, postpaid=~prepaid, product=product,
        handset_os=handset, city=city_code, package=pkg_codes, package_family=package_family[pkg_idx],
        vip_level=np.where(vip, tier_code, ""), first_month=first_month, vip_rank=np.where(vip, tier_rank, 0),
        monthly_fee=fees[pkg_idx],
        # No usage is built, so no package-fit verdict: as the cycle finds for a customer without usage.
        package_fit=np.full(n, "", dtype=object),
    )

    msisdn = np.array([f"1{30 + (i // 10**8) % 70:02d}{i % 10**8:08d}" for i in ids.tolist()], dtype=object)
    names = np.array(SURNAMES, dtype=object)[rng.integers(0, len(SURNAMES), n)] + np.array(
        GIVEN, dtype=object
    )[rng.integers(0, len(GIVEN), n)]
    previous = np.where(
        number_changed, np.array([f"1{i % 10**10:010d}" for i in (ids * 7919 + 10**9).tolist()], dtype=object), ""
    )
    morning = rng.integers(7 * 3600, 9 * 3600 - 1800, n)  # activated before the day's cycle
    activated_at = fmt.shifted(act, morning)
    created_at = fmt.instant(act, 8, 45)
    null = np.full(n, None, dtype=object)
    # Stamped by the customer's last change (activation, rating, manager, first bill), as the imports do: the
    # cycle looks at the customers changed since the previous one.
    last_change = np.maximum.reduce([act, np.where(vip, rated_on, NULL_DAY), manager_on_db, bill_on])
    updated_at = fmt.instant(last_change, 8, 45)
    customer_cols = [
        "id", "msisdn", "name", "city_id", "store_id", "activated_at", "activated_on", "product", "package_id",
        "contract_plan", "previous_msisdn", "number_changed", "handset_os", "vip_tier_id", "vip_rated_at",
        "vip_rated_on", "first_month", "marketing_opt_out", "account_manager_id", "manager_assigned_at",
        "manager_assigned_on", "first_bill_at", "first_bill_on", "status", "cancelled_at", "created_at",
        "updated_at",
    ]
    customer_data = [
        ids, msisdn, names, city, store, activated_at, fmt.date(act), product, package_id,
        np.full(n, "", dtype=object), previous, fmt.bool(number_changed), handset,
        np.where(vip, tier_id, None), fmt.instant(rated_on, 8), fmt.date(rated_on), first_month, fmt.bool(opt_out),
        np.where(manager_on_db != NULL_DAY, manager, None), fmt.instant(manager_on_db, 9),
        fmt.date(manager_on_db), fmt.instant(bill_on, 6), fmt.date(bill_on), np.full(n, "active", dtype=object),
        null, created_at, updated_at,
    ]
    journey_cols = ["id", "customer_id", "playbook_version_id", "status", "started_at", "closed_at", "created_at"]
    journey_data = [ids, ids, np.full(n, ref.version_id), np.full(n, "active", dtype=object), created_at, null,
                    created_at]
    present = np.flatnonzero(age >= 0)
    yield Table("customers_customer", customer_cols, _rows([c[present] for c in customer_data]), present.size)
    yield Table("journeys_journey", journey_cols, _rows([c[present] for c in journey_data]), present.size)
    # What happens before each later cycle: its new customers arrive, ratings and first bills come in.
    for day in range(1, horizon):
        new = np.flatnonzero(act == day)
        rated = np.flatnonzero(vip_ever & (act + rated_age == day))
        bill_new = np.flatnonzero(~prepaid & (act + bill_age == day))
        d = np.full(max(rated.size, bill_new.size, 1), day)
        events = out.future.setdefault(day, {
            "customers": (customer_cols, []), "journeys": (journey_cols, []), "vip": [], "bills": [],
        })
        events["customers"][1].append(_rows([c[new] for c in customer_data]))
        events["journeys"][1].append(_rows([c[new] for c in journey_data]))
        events["vip"].append(
            _rows([tier_id[rated], fmt.instant(d[: rated.size], 8), fmt.date(d[: rated.size]), ids[rated]])
        )
        events["bills"].append(_rows([fmt.instant(d[: bill_new.size], 6), fmt.date(d[: bill_new.size]), ids[bill_new]]))
    bills = np.flatnonzero(billed)
    bill_day = bill_on[bills]
    month = np.array([(ref.today + dt.timedelta(days=int(d))).strftime("%Y-%m") for d in range(-200, 11)],
                     dtype=object)[bill_day + 200] if bills.size else np.zeros(0, dtype=object)
    yield (Table("customers_bill", ["customer_id", "bill_month", "issued_at", "amount"], _rows([
        ids[bills], month, fmt.instant(bill_day, 6),
        np.round(fees[pkg_idx[bills]] * rng.uniform(0.9, 1.3, bills.size), 2).astype(str).astype(object),
    ]), bills.size))

    # --- acts, tasks, messages, escalations -------------------------------------------------------------
    anchors = {"activation": act, "vip_rated": rated_on, "manager_assigned": manager_on_eff, "bill_issued": bill_on}
    b = -1  # the last cycle that ran
    next_action, next_task, next_sms, next_esc = next_ids.action, next_ids.task, next_ids.sms, next_ids.esc
    # Journey and customer ids are the same numbers here (both assigned in arrival order, one journey each).
    action_cols = ["id", "journey_id", "customer_id", "action_code", "occurrence", "stage", "status", "window_start",
                   "window_end", "due_at", "opened_at", "closed_at", "reason"]
    task_cols = ["id", "action_id", "journey_id", "customer_id", "kind", "owner_unit_id", "assignee_id", "status", "due_at",
                 "created_at", "attempts", "max_attempts", "outcome", "note", "checklist", "completed_at",
                 "completed_by_id"]
    sms_cols = ["id", "action_id", "customer_id", "msisdn", "message_class", "text", "segments", "status",
                "scheduled_at", "not_after", "sent_at", "gateway", "gateway_ref", "attempts", "last_error",
                "created_at"]
    esc_cols = ["id", "task_id", "customer_id", "at", "unit_id", "supervisor_id", "reason"]
    counts = out.counts
    counts["bills"] += int(bills.size)
    counts["vip_rated_today"] += int((vip & (rated_on == 0)).sum())
    expected = out.expected_due
    sup_by_city = ref.supervisor_by_city
    for action in playbook.actions:
        anchor = anchors.get(action.window.anchor)
        if anchor is None:
            continue
        w = action.window
        has = (anchor != NULL_DAY) & facts.mask(action.audience)
        opens = anchor + w.start
        if w.latest_day is not None:
            has &= (opens - act) <= w.latest_day
        due_today = has & (opens <= 0) & (anchor + w.end >= 0) & (opens > b)
        expected[action.code] = expected.get(action.code, 0) + int(due_today.sum())
        sel = np.flatnonzero(has & (opens <= b))
        k = sel.size
        if not k:
            continue
        stage = playbook.stage_of(action.code).number
        task_rows = esc_rows = None
        a_ids = np.arange(next_action, next_action + k, dtype=np.int64)
        next_action += k
        o, end = opens[sel], anchor[sel] + w.end
        status = np.full(k, "open", dtype=object)
        closed = np.full(k, NULL_DAY, dtype=np.int64)
        closed_hour = np.full(k, 9, dtype=np.int64)
        reason = np.full(k, "", dtype=object)
        task = action.task
        with_task = np.zeros(k, bool)
        if task is not None:
            with_task = facts.mask(task.audience)[sel] if task.audience else np.ones(k, bool)
        sms_ok = np.zeros(k, bool)
        if action.sms is not None:
            sms_ok = ~opt_out[sel] if action.sms.message_class == "marketing" else np.ones(k, bool)
        if action.system == "assign_account_manager":
            status[:] = "done"
            closed[:] = o
        # SMS-only acts are done when the SMS goes out (the cycle's dispatch, the same morning).
        sms_only = ~with_task & sms_ok & (action.system is None)
        status[sms_only] = "done"
        closed[sms_only] = o[sms_only]
        if with_task.any():
            t_idx = np.flatnonzero(with_task)
            kt = t_idx.size
            u = rng.random(kt)
            p = np.cumsum(TASK_OUTCOMES)
            kind = np.searchsorted(p, u, side="right")  # 0 on time, 1 late, 2 unreachable, 3 running
            if task.max_attempts <= 1:
                kind[kind == 2] = 0
            span = (end[t_idx] - o[t_idx]) + 1
            on_day = o[t_idx] + (rng.random(kt) * span).astype(np.int64)
            late_day = end[t_idx] + 1 + rng.integers(0, 6, kt)
            done_day = np.where(kind == 1, late_day, on_day)
            finished = (kind != 3) & (done_day <= b)
            t_status = np.where(finished, np.array(["done", "done_late", "missed", ""], dtype=object)[kind], None)
            overdue_mark = end[t_idx] + 1 <= b
            running_status = np.where(overdue_mark, "overdue", "open").astype(object)
            t_status = np.where(finished, t_status, running_status)
            escalated = overdue_mark & ((kind == 1) | (kind == 3))
            t_closed = np.where(finished, done_day, NULL_DAY)
            status[t_idx] = t_status
            closed[t_idx] = t_closed
            closed_hour[t_idx] = 15
            reason[t_idx] = np.where(finished & (kind == 2), "unreachable", "")
            # Who owns it, and who is on it.
            jsel = sel[t_idx]
            owner = _owners(ref, task.channel, store[jsel])
            if task.channel == "account_manager":
                assignee = np.where(manager_on_eff[jsel] != NULL_DAY, manager[jsel], None)
            else:
                assignee = np.full(kt, None, dtype=object)
            t_ids = np.arange(next_task, next_task + kt, dtype=np.int64)
            next_task += kt
            attempts = np.where(finished, np.where(kind == 2, task.max_attempts, 1), 0)
            outcome = np.where(finished, np.where(kind == 2, "no_answer", "reached"), "").astype(object)
            completed_by = np.where(finished, assignee, None)
            task_rows = ([
                t_ids, a_ids[t_idx], ids[jsel], ids[jsel], np.full(kt, "act", dtype=object), owner, assignee, t_status,
                fmt.instant(end[t_idx], 23, 59, 59), fmt.instant(o[t_idx], 9), attempts,
                np.full(kt, task.max_attempts), outcome, np.full(kt, "", dtype=object),
                np.full(kt, "{}", dtype=object), fmt.instant(t_closed, 15), completed_by,
            ])
            counts["tasks"] += kt
            e_idx = np.flatnonzero(escalated)
            if e_idx.size:
                sup = np.array([sup_by_city.get(c) for c in city[jsel[e_idx]].tolist()], dtype=object)
                esc_rows = ([
                    np.arange(next_esc, next_esc + e_idx.size, dtype=np.int64), t_ids[e_idx], ids[jsel[e_idx]],
                    fmt.instant(end[t_idx][e_idx] + 1, 9), owner[e_idx], sup,
                    np.full(e_idx.size, "overdue", dtype=object),
                ])
                next_esc += e_idx.size
                counts["escalations"] += e_idx.size
        yield Table("journeys_journeyaction", action_cols, _rows([
            a_ids, ids[sel], ids[sel], np.full(k, action.code, dtype=object), np.zeros(k, np.int64), np.full(k, stage),
            status, fmt.date(anchor[sel] + w.start), fmt.date(end), fmt.instant(end, 23, 59, 59), fmt.instant(o, 9),
            np.where(closed_hour == 15, fmt.instant(closed, 15), fmt.instant(closed, 9)), reason,
        ]), k)
        counts["actions"] += k
        if task_rows is not None:
            yield Table("journeys_task", task_cols, _rows(task_rows), len(task_rows[0]))
        if esc_rows is not None:
            yield Table("journeys_escalation", esc_cols, _rows(esc_rows), len(esc_rows[0]))
        s_idx = np.flatnonzero(sms_ok)
        if s_idx.size:
            ks = s_idx.size
            jsel = sel[s_idx]
            sent = fmt.instant(o[s_idx], 9)
            yield Table("messaging_outboxmessage", sms_cols, _rows([
                np.arange(next_sms, next_sms + ks, dtype=np.int64), a_ids[s_idx], ids[jsel], msisdn[jsel],
                np.full(ks, action.sms.message_class, dtype=object),
                np.full(ks, f"【中国联通】{action.name}：基准测试生成的已发送短信正文。", dtype=object),
                np.ones(ks, np.int64), np.full(ks, "sent", dtype=object), sent, fmt.instant(end[s_idx], 23, 59, 59),
                sent, np.full(ks, "file", dtype=object), np.full(ks, "bench", dtype=object), np.ones(ks, np.int64),
                np.full(ks, "", dtype=object), sent,
            ]), ks)
            next_sms += ks
            counts["sms"] += ks
    next_ids.action, next_ids.task, next_ids.sms, next_ids.esc = next_action, next_task, next_sms, next_esc
