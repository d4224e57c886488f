"""What the daily cycle concludes from usage, set-based: the package-fit verdicts (套餐适配结论) and the offer
chosen for the value-added recommendation (增值业务推荐).

The engine (`journeys.usage_acts`) decides *whose* verdicts to make — the customers whose act's window is
open and who have none yet, or whose usage changed since the previous cycle (`loads_claim`) — and calls
these with those customers as a queryset. Here they are priced all at once: one read of their months, the
catalogue once, `usage.fit.package_fit` over customers × packages × months in NumPy (customers grouped by
which months are on file, since an array has one number of months), one upsert. No query per customer.

`package_fit_verdicts` is what `customer_fit` (the `fit` command) says for each customer, by construction:
the same candidates (`candidate_packages`' rule as an array mask), in the same order, the same thresholds.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Case, CharField, Exists, OuterRef, Q, QuerySet, Value, When

from onboard90.catalog import tariff
from onboard90.catalog.models import Package
from onboard90.catalog.selectors import package_as_dict
from onboard90.core import clock
from onboard90.core.bulk import chunks, insert_values
from onboard90.customers.models import Customer
from onboard90.usage import fit
from onboard90.usage.models import (
    FitVerdict,
    Offer,
    OfferChoice,
    OfferKind,
    PackageFitVerdict,
    UsageLoad,
    UsageMonth,
)
from onboard90.usage.selectors import complete_months
from onboard90.usage.services import month_of

DEFAULT_THRESHOLDS = fit.Thresholds()
CHUNK = 20_000  # customers priced per NumPy call: a few MB of arrays


# --- which customers' usage changed ------------------------------------------------------------------------


def loads_claim(*, run_id: int, unfinished: Iterable[int] = ()) -> int:
    """Claim for cycle `run_id` every usage load no finished cycle has consumed (the new ones and those of
    cycles that did not finish), in one statement, as the change log is claimed. Safe to call again in the
    same cycle (whoever reads usage at the cycle calls it): it then claims only what committed since."""
    return UsageLoad.objects.filter(Q(consumed_by__isnull=True) | Q(consumed_by__in=list(unfinished))).update(
        consumed_by=run_id
    )


def _by_activation_day(customers: QuerySet, value: Callable[[dt.date], str]) -> Case:
    """`value` of each customer's activation day, as one CASE over the days `customers` hold (a window's
    activations: a few weeks of days), for SQL to compare with what a row stores."""
    days = sorted(customers.order_by().values_list("activated_on", flat=True).distinct())
    return Case(
        *(When(activated_on=day, then=Value(value(day))) for day in days), default=Value(""), output_field=CharField()
    )


def _month_written(*, run_id: int, **month: Any) -> Exists:
    """For a queryset of Customer: a month row of the customer matching `month` carries a load claimed by
    `run_id` (a month row carries the last load that moved it). A probe of each customer's own rows, not
    `pk IN (…)`: beside an OR, PostgreSQL reads such a list again for every customer once it outgrows
    `work_mem` (a day's file of a province: a million ids, minutes)."""
    loads = UsageLoad.objects.filter(consumed_by=run_id).values("pk")
    return Exists(UsageMonth.objects.filter(customer_id=OuterRef("pk"), load_id__in=loads, **month))


def offers_stale(customers: QuerySet, *, run_id: int) -> QuerySet:
    """Those of `customers` with no offer chosen yet, or whose offer is not yet made (its SMS not written) and
    whose first month — the activation month, all `offer_choices` reads — a load claimed by `run_id` wrote. A
    daily feed moves the running month, which by the offer's window (day 31 on) is never the first one."""
    moved = _month_written(run_id=run_id, month=OuterRef("activation_month"))
    return customers.alias(activation_month=_by_activation_day(customers, month_of)).filter(
        Q(offer_choice__isnull=True) | (Q(offer_choice__made_at__isnull=True) & moved)
    )


def package_fit_stale(customers: QuerySet, *, run_id: int, today: dt.date) -> QuerySet:
    """Those of `customers` whose package-fit verdict is missing or whose inputs moved since it was made: the
    ended months it is priced on (a month ended, or a load wrote one of them: `selectors.complete_months`), or
    the customer's package. The others keep theirs: a daily feed moves only the running month, which no verdict
    reads, and pricing every customer in the window again each day would cost the cycle a verdict per customer
    in the window (fifteen days of activations) for nothing."""
    months = _by_activation_day(customers, lambda day: ",".join(complete_months(activated_on=day, today=today)))
    current = PackageFitVerdict.objects.filter(
        customer_id=OuterRef("pk"), package=OuterRef("package__code"), months=OuterRef("fit_months")
    )
    ended_written = _month_written(run_id=run_id, month__lt=month_of(today))
    return customers.alias(fit_months=months).filter(~Exists(current) | ended_written)


# --- package fit -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    customer_id: int
    months: list[str]
    package: str
    recommended: str
    current_cost: int  # fen a month
    saving: int  # fen a month
    fits: bool
    saves_enough: bool
    under_used: bool
    explanation: str
    comparison: dict[str, Any]

    @property
    def verdict(self) -> str:
        return FitVerdict.FITS if self.fits else FitVerdict.DOES_NOT_FIT


class _Catalogue:
    """Every package once, by fee then code (the order `candidate_packages` gives, so ties break alike),
    priced by the tariff engine; a package off sale is priced as `customer_fit` prices it, beside those on
    sale."""

    def __init__(self) -> None:
        packages = sorted(Package.objects.all(), key=lambda p: (p.monthly_fee, p.code))
        active = [package_as_dict(p) for p in packages if p.active]
        priced = tariff.tariffs_of(active)
        for p in packages:
            if not p.active:
                priced[p.code] = tariff.tariffs_of([*active, package_as_dict(p)])[p.code]
        self.packages = packages
        self.column = {p.pk: k for k, p in enumerate(packages)}
        self.table = tariff.TariffTable(priced[p.code] for p in packages)
        self.active = np.array([p.active for p in packages], dtype=np.bool_)
        self.product = np.array([p.product for p in packages])
        self.datacard = np.array([p.family == "datacard" for p in packages], dtype=np.bool_)

    def open_to(self, current: np.ndarray, product: np.ndarray) -> np.ndarray:
        """(C, P): on sale, the customer's product, data card to data card and phone to phone; own always."""
        mask = (
            self.active[None, :]
            & (self.product[None, :] == product[:, None])
            & (self.datacard[None, :] == self.datacard[current][:, None])
        )
        mask[np.arange(len(current)), current] = True
        return mask


def package_fit_verdicts(
    customers: QuerySet | Iterable[int], *, today: dt.date, thresholds: fit.Thresholds = DEFAULT_THRESHOLDS
) -> list[Verdict]:
    """The verdict for each of `customers` (a queryset of Customer or of ids) with at least one complete
    month of usage on file (`selectors.complete_months`); the others get none. Nothing is written."""
    catalogue = _Catalogue()
    ids = customers.values_list("pk", flat=True) if isinstance(customers, QuerySet) else customers
    out: list[Verdict] = []
    for chunk in chunks(ids, CHUNK):
        out.extend(_fit_chunk(list(chunk), catalogue=catalogue, today=today, thresholds=thresholds))
    return out


def _fit_chunk(
    ids: list[int], *, catalogue: _Catalogue, today: dt.date, thresholds: fit.Thresholds
) -> list[Verdict]:
    rows = list(
        Customer.objects.filter(pk__in=ids).values_list("pk", "activated_on", "product", "package_id")
    )
    wanted = {day: complete_months(activated_on=day, today=today) for day in {r[1] for r in rows}}
    every = sorted({m for months in wanted.values() for m in months})
    held: dict[int, dict[str, tuple[int, int, int]]] = {}
    for customer_id, month, voice, data, sms in UsageMonth.objects.filter(
        customer_id__in=ids, month__in=every
    ).values_list("customer_id", "month", "voice_min", "data_mb", "sms"):
        held.setdefault(customer_id, {})[month] = (voice, data, sms)
    # Customers priced on the same months go through one array (the number of months is its third axis).
    groups: dict[tuple[str, ...], list[tuple[int, str, int]]] = {}
    for pk, activated_on, product, package_id in rows:
        on_file = held.get(pk, {})
        priced = tuple(m for m in wanted[activated_on] if m in on_file)
        if priced:
            groups.setdefault(priced, []).append((pk, product, catalogue.column[package_id]))
    out = []
    for months, members in groups.items():
        current = np.array([m[2] for m in members], dtype=np.intp)
        product = np.array([m[1] for m in members])
        usage = np.array(
            [[held[m[0]][month] for month in months] for m in members], dtype=np.int64
        )  # C × M × 3
        minutes, data_mb, sms = usage[:, :, 0], usage[:, :, 1], usage[:, :, 2]
        open_to = catalogue.open_to(current, product)
        result = fit.package_fit(
            catalogue.table,
            current=current,
            open_to=open_to,
            minutes=minutes,
            data_mb=data_mb,
            sms=sms,
            thresholds=thresholds,
        )
        codes = [p.code for p in catalogue.packages]
        for i, (pk, _, column) in enumerate(members):
            shown = np.flatnonzero(open_to[i])
            out.append(
                Verdict(
                    customer_id=pk,
                    months=list(months),
                    package=codes[column],
                    recommended=codes[int(result.recommended[i])],
                    current_cost=int(result.totals[i, column]) // len(months),
                    saving=int(result.saving[i]),
                    fits=bool(result.fits[i]),
                    saves_enough=bool(result.saves_enough[i]),
                    under_used=bool(result.under_used[i]),
                    explanation=fit.explanation(
                        result, catalogue.table, i, minutes=minutes, data_mb=data_mb, sms=sms
                    ),
                    comparison={
                        "months": list(months),
                        "usage": usage[i].tolist(),
                        # One conversion of the customer's rows, not one per package (a NumPy scalar each).
                        "packages": [
                            [codes[k], costs] for k, costs in zip(shown.tolist(), result.costs[i, shown].tolist(), strict=True)
                        ],
                    },
                )
            )
    return out


_VERDICT_FIELDS = [
    "as_of",
    "months",
    "package",
    "recommended",
    "current_cost",
    "saving",
    "verdict",
    "saves_enough",
    "under_used",
    "explanation",
    "comparison",
    "computed_at",
]


def package_fit_store(*, verdicts: list[Verdict], today: dt.date) -> list[int]:
    """Upsert the verdicts (one row per customer). Returns the customers whose verdict is new or whose
    verdict or recommendation changed: what the engine's audiences read has moved for them."""
    if not verdicts:
        return []
    with transaction.atomic():
        before = {}
        for chunk in chunks([v.customer_id for v in verdicts], 5000):
            before.update(
                (c, (verdict, recommended))
                for c, verdict, recommended in PackageFitVerdict.objects.filter(
                    customer_id__in=chunk
                ).values_list("customer_id", "verdict", "recommended")
            )
        now = clock.now()
        fields = ["customer", *_VERDICT_FIELDS]

        def row(v: Verdict) -> list[Any]:
            values = {
                "customer": v.customer_id, "as_of": today, "months": ",".join(v.months), "package": v.package,
                "recommended": v.recommended, "current_cost": v.current_cost, "saving": v.saving,
                "verdict": v.verdict, "saves_enough": v.saves_enough, "under_used": v.under_used,
                "explanation": v.explanation, "comparison": v.comparison, "computed_at": now,
            }  # fmt: skip
            return [values[name] for name in fields]

        # Rows, not model instances: the demo's province stores about two thousand verdicts a day.
        insert_values(
            PackageFitVerdict,
            fields,
            map(row, verdicts),
            unique_fields=["customer"],
            update_fields=_VERDICT_FIELDS,
            batch=2000,
        )
    return [v.customer_id for v in verdicts if before.get(v.customer_id) != (v.verdict, v.recommended)]


def fit_context(verdict: PackageFitVerdict | None) -> dict[str, Any] | None:
    """`fit` as SMS templates and task notes see it: money in yuan."""
    if verdict is None:
        return None
    return {
        "verdict": verdict.verdict,
        "recommended": verdict.recommended,
        "saving": tariff.to_yuan(verdict.saving),
        "current_cost": tariff.to_yuan(verdict.current_cost),
        "explanation": verdict.explanation,
    }


# --- the offer ---------------------------------------------------------------------------------------------

# Which allowance each kind of pack tops up, and the order a tie between two overflowing allowances goes.
_KINDS = (OfferKind.DATA, OfferKind.VOICE, OfferKind.SMS)
_UNIT = {OfferKind.DATA: "MB", OfferKind.VOICE: "分钟", OfferKind.SMS: "条"}
_LABEL = {OfferKind.DATA: "流量", OfferKind.VOICE: "通话", OfferKind.SMS: "短信"}


@dataclass(frozen=True)
class Choice:
    customer_id: int
    offer_id: int
    month: str
    reason: str


def offer_choices(customers: QuerySet | Iterable[int], *, offers: list[Offer] | None = None) -> list[Choice]:
    """The offer for each of `customers` with usage on file for their first month (the activation month), by
    the rules the offers carry (see `Offer`): the first month's use taken to a whole month
    (use × days in the month ÷ days on file) against the package's allowance. The allowance the customer
    overflows most (in % of it) picks the kind, the smallest pack of that kind covering the overflow (else
    the largest) the offer; no allowance at its trigger: the first content service. Nothing is written."""
    offers = [o for o in (offers if offers is not None else Offer.objects.filter(active=True)) if o.active]
    if not offers:
        return []
    ids = customers.values_list("pk", flat=True) if isinstance(customers, QuerySet) else customers
    out: list[Choice] = []
    for chunk in chunks(ids, CHUNK):
        out.extend(_choose_chunk(list(chunk), offers))
    return out


def _choose_chunk(ids: list[int], offers: list[Offer]) -> list[Choice]:
    rows = list(
        Customer.objects.filter(pk__in=ids).values_list(
            "pk",
            "activated_on",
            "package__voice_min",
            "package__data_mb",
            "package__sms",
            "package__voice_rate",
            "package__data_rate",
            "package__sms_rate",
        )
    )
    first = {pk: month_of(day) for pk, day, *_ in rows}
    held = {
        c: (month, v, d, s, days)
        for c, month, v, d, s, days in UsageMonth.objects.filter(
            customer_id__in=ids, month__in=set(first.values())
        ).values_list("customer_id", "month", "voice_min", "data_mb", "sms", "days")
        if first[c] == month and days
    }
    rows = [r for r in rows if r[0] in held]
    if not rows:
        return []
    n = len(rows)
    length = np.array(
        [calendar.monthrange(int(held[r[0]][0][:4]), int(held[r[0]][0][5:]))[1] for r in rows], dtype=np.int64
    )
    days = np.array([held[r[0]][4] for r in rows], dtype=np.int64)
    # Taken to a whole month, rounded half up (exact integers).
    used = {
        kind: (np.array([held[r[0]][k] for r in rows], dtype=np.int64) * length * 2 + days) // (days * 2)
        for kind, k in ((OfferKind.VOICE, 1), (OfferKind.DATA, 2), (OfferKind.SMS, 3))
    }
    allowance = {
        kind: np.array([r[k] for r in rows], dtype=np.int64)
        for kind, k in ((OfferKind.VOICE, 2), (OfferKind.DATA, 3), (OfferKind.SMS, 4))
    }
    rate = {  # fen per unit beyond the package (whole fen are enough to rank with)
        kind: np.array([int((r[k] or 0) * 100) for r in rows], dtype=np.int64)
        for kind, k in ((OfferKind.VOICE, 5), (OfferKind.DATA, 6), (OfferKind.SMS, 7))
    }
    best_share = np.full(n, -1, dtype=np.int64)  # % of the allowance, of the kind chosen so far
    chosen = np.full(n, -1, dtype=np.int64)  # index into offers
    chosen_kind = np.full(n, -1, dtype=np.int64)
    for k, kind in enumerate(_KINDS):
        packs = sorted((o for o in offers if o.kind == kind), key=lambda o: (o.amount, o.rank))
        if not packs:
            continue
        use, included = used[kind], allowance[kind]
        # Without an allowance, what the use costs at the package's rate against the cheapest pack's fee: a
        # pack is worth it once the use would cost `trigger_percent` % of its fee.
        cheapest = min(int(pack.price * 100) for pack in packs)
        share = np.where(
            included > 0,
            use * 100 // np.maximum(included, 1),
            np.where(use > 0, use * rate[kind] * 100 // max(cheapest, 1), 0),
        )
        over = np.maximum(use - included, 0)
        pick = np.full(n, -1, dtype=np.int64)
        # The smallest pack that covers the overflow wins: walk down from the largest.
        for pack in reversed(packs):
            triggered = share >= pack.trigger_percent
            if pack.trigger_percent == 0:
                triggered &= use > 0
            covers = over <= pack.amount if pack.amount else np.ones(n, dtype=np.bool_)
            pick = np.where(triggered & (covers | (pick < 0)), offers.index(pack), pick)
        better = (pick >= 0) & (share > best_share)
        chosen = np.where(better, pick, chosen)
        chosen_kind = np.where(better, k, chosen_kind)
        best_share = np.where(better, share, best_share)
    content = sorted((o for o in offers if o.kind == OfferKind.CONTENT), key=lambda o: (o.rank, o.code))
    out = []
    for i, (pk, *_rest) in enumerate(rows):
        month = held[pk][0]
        if chosen[i] >= 0:
            kind = _KINDS[int(chosen_kind[i])]
            use, included = int(used[kind][i]), int(allowance[kind][i])
            unit, label = _UNIT[kind], _LABEL[kind]
            if included:
                reason = (
                    f"首月{label}折合每月约{use}{unit}，占套餐所含{included}{unit}的{int(best_share[i])}%"
                )
            else:
                reason = f"首月{label}折合每月约{use}{unit}，套餐不含{label}，按套外资费约{use * int(rate[kind][i]) // 100}元"
            out.append(Choice(pk, offers[int(chosen[i])].pk, month, reason))
        elif content:
            out.append(Choice(pk, content[0].pk, month, "首月各项用量均在套餐以内，推荐增值业务"))
    return out


def offer_choices_store(*, choices: list[Choice], today: dt.date) -> int:
    """Upsert the choices; an offer already made (its SMS written) is kept as it was."""
    made = set()
    for chunk in chunks([c.customer_id for c in choices], 5000):
        made.update(
            OfferChoice.objects.filter(customer_id__in=chunk, made_at__isnull=False).values_list(
                "customer_id", flat=True
            )
        )
    fresh = [c for c in choices if c.customer_id not in made]
    OfferChoice.objects.bulk_create(
        [
            OfferChoice(
                customer_id=c.customer_id, offer_id=c.offer_id, month=c.month, reason=c.reason, as_of=today
            )
            for c in fresh
        ],
        update_conflicts=True,
        unique_fields=["customer"],
        update_fields=["offer", "month", "reason", "as_of"],
        batch_size=2000,
    )
    return len(fresh)


def offer_context(choice: OfferChoice | None) -> dict[str, Any] | None:
    """`offer` as SMS templates see it."""
    if choice is None:
        return None
    offer = choice.offer
    return {
        "code": offer.code,
        "name": offer.name,
        "kind": offer.kind,
        "price": offer.price,
        "pitch": offer.pitch,
        "reason": choice.reason,
    }


def offers_made(*, customer_ids: Iterable[int], at: dt.datetime) -> int:
    """The offers whose SMS has just been written for these customers."""
    return OfferChoice.objects.filter(customer_id__in=list(customer_ids), made_at__isnull=True).update(
        made_at=at
    )


def offer_accepted(*, customer_id: int, at: dt.datetime) -> int:
    """A yes (a 1/是 reply) to the offer the customer was made."""
    return OfferChoice.objects.filter(
        customer_id=customer_id, made_at__isnull=False, accepted_at__isnull=True
    ).update(accepted_at=at)


def offer_taken(*, customer_id: int, at: dt.datetime, via: str = "task") -> int:
    """The offer was set up for the customer (the follow-up reached them and recorded it)."""
    return OfferChoice.objects.filter(customer_id=customer_id, taken_at__isnull=True).update(
        taken_at=at, taken_via=via
    )
