"""Build (and tear down) the demo province: synthetic BSS files through the real imports, staff through
`staff_add`, and the history simulated by the real daily cycle with simulated staff working the tasks."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import json
import logging
import random
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q

from onboard90.catalog.models import Package, VipTier
from onboard90.core import clock
from onboard90.core.bulk import chunks
from onboard90.core.models import AuditEntry
from onboard90.core.services import audit_record, scratch_mark
from onboard90.customers.enums import CustomerStatus, EventType
from onboard90.customers.models import Bill, Customer, CustomerEvent
from onboard90.customers.services import customers_import, events_import
from onboard90.demo import generator
from onboard90.demo.generator import Activation, Event, Province, StaffSpec
from onboard90.demo.usage import demo_usage_day, demo_usage_reset
from onboard90.installation import install_reference_data
from onboard90.journeys.cycle import cycle_run
from onboard90.journeys.enums import RUNNING, JourneyStatus, TaskKind
from onboard90.journeys.models import CycleRun, Escalation, Journey, JourneyAction, Task, TaskAttempt
from onboard90.journeys.selectors import takeable_tasks
from onboard90.journeys.services import task_take, tasks_complete_bulk
from onboard90.messaging import delivery
from onboard90.messaging.enums import Delivery, MessageStatus, Purpose, ReplyKind
from onboard90.messaging.gateways import BufferedFileGateway
from onboard90.messaging.kannel import DLR_PATH, KannelGateway
from onboard90.messaging.kannel_local import CallbackReceiver, KannelPeer, kannel_missing, wait_until
from onboard90.messaging.models import InboundMessage, OutboxMessage
from onboard90.messaging.replies import reply_receive
from onboard90.org.enums import UnitKind
from onboard90.org.models import City, StaffProfile, Unit
from onboard90.org.services import staff_add

log = logging.getLogger("onboard90.demo")

DEMO_PASSWORD = "onboard90-demo"
ADMIN_USERNAME = "admin"
# Every customers file the demo writes is named demo-customers-*.csv; the import records that name as
# the activation event's source, which is how a reset tells demo customers from real ones.
CUSTOMERS_SOURCE_PREFIX = "import:customers:demo-customers-"
BUILD_VERB = "demo.build"

# (label, done, total): the command turns these into a progress bar, or ignores them when piped.
Progress = Callable[[str, int, int], None]


class DemoRefused(ValueError):
    """The demo will not build on this database as it is (the message says what to do)."""


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    customers: int = 20000
    days: int = 120
    seed: int = 2012
    today: dt.date | None = None
    gateway: str = "file"  # GATEWAYS: where the history's SMS go


GATEWAYS = ("file", "kannel")


# --- reading the installed reference data --------------------------------------------------------------


def _province() -> Province:
    units = defaultdict(list)
    for code, city_id, kind, is_main in Unit.objects.order_by("code").values_list("code", "city_id", "kind", "is_main"):
        units[city_id].append(generator.UnitSpec(code, kind, is_main))
    cities = tuple(
        generator.CitySpec(code, weight, tuple(units[pk]))
        for pk, code, weight in City.objects.order_by("sort_order", "code").values_list("id", "code", "weight")
        if any(unit.kind == "store" for unit in units[pk])
    )
    if not cities:
        raise DemoRefused("没有地市或营业厅，请先运行 onboard90 init / no city has a store: run `onboard90 init` first")
    packages = tuple(
        generator.PackageSpec(code, product, fee)
        for code, product, fee in Package.objects.filter(active=True)
        .order_by("code")
        .values_list("code", "product", "monthly_fee")
    )
    tiers = tuple(VipTier.objects.filter(enabled=True).order_by("rank").values_list("code", flat=True))
    return Province(cities=cities, packages=packages, tiers=tiers)


# --- what is already there -----------------------------------------------------------------------------


def _demo_customers():
    marked = CustomerEvent.objects.filter(
        customer=OuterRef("pk"), type=EventType.ACTIVATION, source__startswith=CUSTOMERS_SOURCE_PREFIX
    )
    return Customer.objects.filter(Exists(marked))


def _demo_usernames() -> list[str]:
    """Every account an earlier demo build created (recorded in its audit entry)."""
    names: list[str] = []
    for after in AuditEntry.objects.filter(verb=BUILD_VERB).values_list("after", flat=True):
        names += (after or {}).get("staff", [])
        if (after or {}).get("admin_created"):
            names.append(ADMIN_USERNAME)
    return list(dict.fromkeys(names))


def demo_present() -> dict[str, int]:
    users = get_user_model().objects.filter(username__in=_demo_usernames()).count()
    return {"customers": Customer.objects.count(), "demo_customers": _demo_customers().count(), "demo_staff": users}


def demo_reset(*, reset_by: Any = None) -> dict[str, int]:
    """Delete what the demo built — its customers with their journeys, tasks and messages, and its staff —
    keeping the reference data and the playbook. Refuses when the database holds customers of its own."""
    demo_ids = _demo_customers().values("pk")
    others = Customer.objects.exclude(pk__in=demo_ids).count()
    if others:
        raise DemoRefused(
            f"数据库中有 {others} 位不是演示生成的客户，演示不会删除或覆盖它们；请换一个空数据库 "
            f"(DATABASE_URL=…) / the database holds {others} customers the demo did not create: it will not "
            "touch them; build the demo in an empty database (set DATABASE_URL)"
        )
    counts: dict[str, int] = {}
    with transaction.atomic():
        # Every customer is a demo one (checked above), so everything hanging off customers goes, leaves
        # first, one statement per table.
        steps = [
            ("escalations", Escalation), ("attempts", TaskAttempt), ("replies", InboundMessage),
            ("messages", OutboxMessage), ("tasks", Task),
            ("actions", JourneyAction), ("journeys", Journey), ("bills", Bill),
        ]
        for name, model in steps:
            counts[name] = _delete(model.objects.all())
        counts["events"] = _delete(CustomerEvent.objects.filter(customer__isnull=False))
        counts["usage"] = demo_usage_reset()
        counts["customers"] = _delete(Customer.objects.all())
        # The cycle records described the deleted customers' history; a new demo writes its own.
        counts["cycles"] = _delete(CycleRun.objects.all())
        accounts = get_user_model().objects.filter(username__in=_demo_usernames())
        counts["staff"] = accounts.count()
        accounts.delete()
        AuditEntry.objects.filter(verb=BUILD_VERB).update(verb=f"{BUILD_VERB}.reset")
        audit_record(actor=reset_by, verb="demo.reset", object_type="demo", after=counts, actor_label="demo")
    return counts


def _delete(queryset) -> int:
    """DELETE … WHERE pk IN (SELECT …): one statement per table, where Django's delete() would first load
    every row to cascade (hundreds of thousands of actions). Callers delete the dependants first."""
    model = queryset.model
    sql, params = queryset.values("pk").query.get_compiler(connection=connection).as_sql()
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {pk} IN ({sql})", params)
        return max(cursor.rowcount, 0)


# --- staff ---------------------------------------------------------------------------------------------


def _staff_install(specs: list[StaffSpec]) -> tuple[list[str], bool]:
    """Every demo staff member through `staff_add`; all share the demo password. Returns (usernames,
    whether the province admin was created here)."""
    users = get_user_model()
    taken = set(users.objects.filter(username__in=[s.username for s in specs] + [ADMIN_USERNAME]).values_list(
        "username", flat=True
    ))
    clash = sorted(taken - {ADMIN_USERNAME})
    if clash:
        raise DemoRefused(
            f"已有同名用户 / these usernames already exist: {', '.join(clash[:5])}… — 加 --reset 重建演示 / "
            "add --reset to rebuild the demo"
        )
    admin_created = ADMIN_USERNAME not in taken
    if admin_created:
        # Hashing a password costs a deliberate fraction of a second: do it once, for the admin.
        staff_add(username=ADMIN_USERNAME, role="province_admin", city=None, password=DEMO_PASSWORD,
                  display_name="省公司管理员")
        hashed = users.objects.get(username=ADMIN_USERNAME).password
    else:
        hashed = make_password(DEMO_PASSWORD)
    with transaction.atomic():
        for spec in specs:
            staff_add(username=spec.username, role=spec.role, city=spec.city, unit=spec.unit,
                      display_name=spec.display_name, phone=spec.phone)
        users.objects.filter(username__in=[s.username for s in specs]).update(password=hashed)
    return [s.username for s in specs], admin_created


# --- the simulated day ---------------------------------------------------------------------------------


def cycle_day_of(instant: dt.datetime) -> dt.date:
    """The day whose cycle first sees a fact that happened at `instant`: today's if before the cycle hour."""
    day = clock.local_date(instant)
    return day if instant <= clock.cycle_instant(day) else day + dt.timedelta(days=1)


class _Staff:
    """The simulated people: who works a unit's tasks, and how diligent each unit and person is."""

    def __init__(self, *, seed: int, diligence: dict[str, float]):
        self.seed = seed
        units = dict(Unit.objects.values_list("id", "code"))
        self.unit_diligence = {pk: diligence.get(code, 0.8) for pk, code in units.items()}
        self.personal_teams = set(
            Unit.objects.filter(kind=UnitKind.ACCOUNT_MANAGER_TEAM).values_list("id", flat=True)
        )
        self.members: dict[int, list[int]] = defaultdict(list)
        self.bias: dict[int, float] = {}
        for user_id, unit_id, username in (
            StaffProfile.objects.filter(active=True, unit__isnull=False)
            .order_by("user__username")
            .values_list("user_id", "unit_id", "user__username")
        ):
            self.members[unit_id].append(user_id)
            # Within a unit people differ a little too, so the report by staff is not flat.
            self.bias[user_id] = random.Random(f"onboard90-demo:{seed}:bias:{username}").uniform(-0.06, 0.04)

    def who(self, *, unit_id: int, assignee_id: int | None, msisdn: str, action_code: str) -> int | None:
        if assignee_id is not None or unit_id in self.personal_teams:
            return assignee_id  # VIP work is the customer's own account manager's
        members = self.members.get(unit_id)
        if not members:
            return None
        return random.Random(f"onboard90-demo:{self.seed}:who:{msisdn}:{action_code}").choice(members)

    def diligence(self, *, unit_id: int, user_id: int | None) -> float:
        base = self.unit_diligence.get(unit_id, 0.8) + self.bias.get(user_id, 0.0)
        return min(0.98, max(0.5, base))


class _Workplan:
    """What the simulated staff will do, drawn once per task when it first appears and kept by day."""

    def __init__(self):
        self.seen = 0  # tasks are drawn in id order: every task up to this one has its attempts planned
        self.by_day: dict[dt.date, list[tuple[int, str, dt.datetime, int | None]]] = defaultdict(list)


def _work_the_day(*, day: dt.date, staff: _Staff, plan: _Workplan, seed: int) -> dict[str, int]:
    """After the day's cycle: staff record the attempts they make today on the running tasks.

    Only the tasks that appeared since the day before are read: each one's fate is drawn once (from its
    customer and act, so it does not depend on ids) and filed under the days of its attempts. Today's
    attempts go through the bulk completion path, for the tasks still running.
    """
    new = (
        Task.objects.filter(status__in=RUNNING, kind=TaskKind.ACT, pk__gt=plan.seen)
        .order_by("pk")
        .values_list(
            "pk", "action__action_code", "owner_unit_id", "assignee_id", "created_at", "due_at", "max_attempts",
            "journey__customer__msisdn",
        )
    )
    for pk, code, unit_id, assignee_id, created_at, due_at, max_attempts, msisdn in new.iterator(chunk_size=5000):
        user_id = staff.who(unit_id=unit_id, assignee_id=assignee_id, msisdn=msisdn, action_code=code)
        attempts = generator.task_plan(
            seed=seed, msisdn=msisdn, action_code=code, diligence=staff.diligence(unit_id=unit_id, user_id=user_id),
            created_on=clock.local_date(created_at), due_on=clock.local_date(due_at), max_attempts=max_attempts,
        )
        for attempt in attempts:
            plan.by_day[attempt.day].append((pk, attempt.outcome, attempt.at, user_id))
        plan.seen = pk
    todays = plan.by_day.pop(day, [])
    # Who works it is read today: an account manager assigned since the task appeared works it now.
    running: dict[int, int | None] = {}
    for ids in chunks(sorted({pk for pk, *_ in todays}), 2000):
        running.update(Task.objects.filter(pk__in=ids, status__in=RUNNING).values_list("pk", "assignee_id"))
    completions = [
        (pk, outcome, at, running[pk] or user_id) for pk, outcome, at, user_id in todays if pk in running
    ]
    completions.sort(key=lambda c: (c[2], c[0]))
    return tasks_complete_bulk(completions=completions, source="demo")


def _customers_reply(*, day: dt.date, seed: int, wall) -> Counter:
    """After the day's cycle: the customers answer the SMS that left today (`generator.reply_to`), each reply
    at its own minute, through the replies service the MO endpoint calls (`messaging.replies.reply_receive`):
    TD/退订 opts out and queues its confirmation, a score answers the survey, a yes to the offer becomes the
    store's follow-up task, anything else is kept unmatched for staff.

    The replies are passed straight to the service, with the gateway Kannel or not: a handset's reply through
    Kannel would be stamped with the real clock (its %T), not the history's business time, and the way in
    through Kannel's sms-service is the endpoint's own tests' (messaging/tests/test_replies.py).
    """
    sent = (
        OutboxMessage.objects.filter(
            status=MessageStatus.SENT, purpose=Purpose.ACT, sent_at__gte=clock.at_local(day),
            sent_at__lt=clock.at_local(day + dt.timedelta(days=1)),
        )
        .order_by("pk")
        .values_list("msisdn", "action__action_code", "sent_at")
    )
    replies = [
        reply
        for msisdn, code, sent_at in sent.iterator(chunk_size=5000)
        if (reply := generator.reply_to(seed=seed, msisdn=msisdn, action_code=code, sent_at=sent_at))
    ]
    kinds: Counter = Counter()
    for reply in sorted(replies, key=lambda r: (r.at, r.msisdn)):
        wall.at = reply.at
        kinds[reply_receive(msisdn=reply.msisdn, text=reply.text, received_at=reply.at, gateway="demo").kind] += 1
    return kinds


class _FileSms:
    """The demo's default gateway: the day's SMS appended to var/demo/sms-sent.jsonl, once a day."""

    def __init__(self, path: Path):
        self.gateway = BufferedFileGateway(path)

    def before_cycle(self, as_of: dt.datetime) -> None:
        self.gateway.as_of = as_of

    def after_cycle(self, day: dt.date) -> None:
        self.gateway.flush()


class _KannelSms:
    """`--gateway kannel`: the day's SMS through a real Kannel on loopback (`kannel_local.KannelPeer`: bearerbox,
    smsbox and the fake SMS centre, started for the build and stopped after it), and their delivery reports
    back into the outbox.

    Kannel calls each message's dlr-url on a small receiver on loopback (`kannel_local.CallbackReceiver`), which
    only keeps the calls; after the day's dispatch the demo waits for the reports of what left and passes each
    to the service the DLR endpoint calls (`messaging.delivery.dlr_record`), from the build's own thread. Not
    the endpoint on a web server: the demo runs none while it builds, the database has one writer (SQLite
    takes one at a time), and the reports are dated in the history's business time, not Kannel's real clock.
    """

    # How long the demo waits for a day's delivery reports before it goes on (a late one is taken the next day).
    REPORTS_TIMEOUT = 60

    def __init__(self, peer: KannelPeer, receiver: CallbackReceiver, secret: str):
        self.peer, self.receiver, self.secret = peer, receiver, secret
        self.gateway = KannelGateway(
            sendsms_url=peer.sendsms_url, username=peer.username, password=peer.password, sender=peer.sender,
            callback_base=receiver.url, callback_secret=secret, timeout=10,
        )
        self.read = 0  # receiver calls passed on to the outbox so far
        self.scanned = 0  # receiver calls looked at for final reports so far
        self.final: set[int] = set()  # messages with a final report
        self.reports: Counter = Counter()

    def before_cycle(self, as_of: dt.datetime) -> None:
        pass

    def after_cycle(self, day: dt.date) -> None:
        left = set(
            OutboxMessage.objects.filter(
                gateway=self.gateway.name, status=MessageStatus.SENT, sent_at__gte=clock.at_local(day),
                sent_at__lt=clock.at_local(day + dt.timedelta(days=1)),
            ).values_list("pk", flat=True)
        )

        def all_reported() -> bool:
            new = self.receiver.calls[self.scanned :]
            self.scanned += len(new)
            self.final.update(
                int(call.query["id"])
                for call in new
                if call.path == DLR_PATH and call.query.get("status") in ("1", "2", "16")  # delivered, failed, rejected
            )
            return left <= self.final

        try:
            wait_until(all_reported, timeout=self.REPORTS_TIMEOUT, what=f"the delivery reports of {day}")
        except TimeoutError as exc:
            log.warning("demo: %s; %d still unreported, taken when they come", exc, len(left - self.final))
        calls = self.receiver.calls[self.read :]
        self.read += len(calls)
        reported_at = clock.now()
        for call in calls:
            if call.path != DLR_PATH or call.query.get("secret") != self.secret:
                continue
            self.reports[
                delivery.dlr_record(
                    message_id=int(call.query["id"]), report_type=int(call.query["status"]),
                    reported_at=reported_at, detail=call.query.get("reply", ""),
                )
            ] += 1

    def close(self) -> None:
        self.gateway.close()


def _check_gateway(kind: str) -> None:
    if kind not in GATEWAYS:
        raise DemoRefused(f"--gateway 须为 {' / '.join(GATEWAYS)} / --gateway must be one of {', '.join(GATEWAYS)}")
    if kind == "kannel" and (missing := kannel_missing()):
        raise DemoRefused(f"--gateway kannel: 未安装 Kannel / Kannel is not installed here: {missing}")


@contextlib.contextmanager
def _sms_gateway(kind: str, out_dir: Path) -> Iterator[_FileSms | _KannelSms]:
    if kind == "file":
        yield _FileSms(out_dir / "sms-sent.jsonl")
        return
    _check_gateway(kind)
    secret = secrets.token_urlsafe(12)
    with (
        CallbackReceiver() as receiver,
        KannelPeer(out_dir / "kannel", callback_base=receiver.url, callback_secret=secret) as peer,
    ):
        sms = _KannelSms(peer, receiver, secret)
        try:
            yield sms
        finally:
            sms.close()


def _write_customers(path: Path, activations: list[Activation]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=generator.CUSTOMER_COLUMNS)
        writer.writeheader()
        writer.writerows(a.row() for a in activations)


def _write_events(path: Path, events: list[Event]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for event in events:
            fh.write(json.dumps(event.document(), ensure_ascii=False) + "\n")


def _imported(result, what: str) -> None:
    if result.rejected:  # the generator only writes valid rows; a rejection is a bug worth stopping for
        raise RuntimeError(f"demo {what} import rejected {result.rejected} rows, see {result.error_path}")


# --- the build -----------------------------------------------------------------------------------------


def demo_build(
    *, options: DemoOptions, reset: bool = False, out_dir: Path | None = None, on_progress: Progress | None = None
) -> dict[str, Any]:
    """Build the demo province and simulate its history up to `options.today`; returns the summary.

    Refuses (DemoRefused) on a database that already has customers or an earlier demo, unless `reset`.
    """
    started = time.monotonic()
    report = on_progress or (lambda label, done, total: None)
    today = options.today or clock.today()
    if options.customers < 1 or options.days < 1:
        raise DemoRefused("--customers 与 --days 须为正数 / --customers and --days must be positive")
    _check_gateway(options.gateway)  # before anything is written
    present = demo_present()
    if reset:
        demo_reset()
    elif present["customers"] or present["demo_staff"]:
        raise DemoRefused(
            f"数据库中已有 {present['customers']} 位客户 / {present['demo_staff']} 个演示账号；"
            "加 --reset 删除上次的演示后重建（参考数据和服务方案保留）/ the database already has "
            f"{present['customers']} customers and {present['demo_staff']} demo accounts: add --reset to delete "
            "the previous demo and build again (reference data and the playbook are kept)"
        )
    # Its history runs on a simulated clock, which only a scratch database accepts: a database with no
    # customers, or only the demo's (checked above), becomes one.
    scratch_mark(purpose="demo")
    # Idempotent, and never overwrite an operator's edits: a migrated but uninitialised database works too.
    install_reference_data()

    out_dir = Path(out_dir or Path(settings.VAR_DIR) / "demo")
    bss_dir = out_dir / "bss"
    bss_dir.mkdir(parents=True, exist_ok=True)
    for old in [*bss_dir.glob("demo-*"), out_dir / "sms-sent.jsonl"]:
        old.unlink(missing_ok=True)

    report("生成客户 / generating customers", 0, 1)
    gen = generator.ProvinceGenerator(seed=options.seed, province=_province())
    first_day = today - dt.timedelta(days=options.days)
    activations, events = gen.customers(
        count=options.customers, first_day=first_day, last_day=today - dt.timedelta(days=1)
    )
    report("生成客户 / generating customers", 1, 1)

    report("员工 / staff", 0, 1)
    specs = gen.staff()
    usernames, admin_created = _staff_install(specs)
    audit_record(
        actor=None, verb=BUILD_VERB, object_type="demo", actor_label="demo",
        after={"seed": options.seed, "customers": options.customers, "days": options.days,
               "today": today.isoformat(), "staff": usernames, "admin_created": admin_created},
    )
    report("员工 / staff", 1, 1)

    # Each fact is applied before the first cycle after it happened, as a nightly BSS file would be.
    arrivals: dict[dt.date, list[Activation]] = defaultdict(list)
    for activation in activations:
        arrivals[cycle_day_of(activation.activated_at)].append(activation)
    later: dict[dt.date, list[Event]] = defaultdict(list)
    for event in events:
        later[cycle_day_of(event.at)].append(event)

    staff = _Staff(seed=options.seed, diligence=gen.diligence())
    plan = _Workplan()
    total_days = (today - first_day).days + 1
    work = Counter()
    label = "模拟历史 / simulating days"
    report(label, 0, total_days)
    # The history runs on its own business time, so the records carry the times they would have had and
    # each cycle looks, as the production one does, only at what changed since the one before.
    with _sms_gateway(options.gateway, out_dir) as sms, clock.simulated(clock.cycle_instant(first_day)) as wall:
        for n in range(total_days):
            day = first_day + dt.timedelta(days=n)
            as_of = clock.cycle_instant(day)
            wall.at = as_of - dt.timedelta(minutes=30)  # the night's BSS files, loaded before the cycle
            if arrivals.get(day):
                path = bss_dir / f"demo-customers-{day.isoformat()}.csv"
                _write_customers(path, arrivals[day])
                _imported(customers_import(path=path, now=as_of), "customers")
            if later.get(day):
                path = bss_dir / f"demo-events-{day.isoformat()}.jsonl"
                _write_events(path, later[day])
                _imported(events_import(path=path, now=as_of), "events")
            demo_usage_day(day=day - dt.timedelta(days=1), folder=bss_dir, seed=options.seed, now=wall.at)
            wall.at = as_of
            sms.before_cycle(as_of)
            cycle_run(as_of=as_of, gateway=sms.gateway, figures=day == today)
            sms.after_cycle(day)
            if day < today:  # today's new work (and today's replies) are left for real people
                _customers_reply(day=day, seed=options.seed, wall=wall)
                wall.at = clock.end_of_day(day)
                work.update(_work_the_day(day=day, staff=staff, plan=plan, seed=options.seed))
            report(label, n + 1, total_days)

    _club_takes_coaching(today=today)
    summary = demo_summary(today=today)
    summary.update(
        gateway=options.gateway, sms_reports=dict(getattr(sms, "reports", {})),
        seed=options.seed, first_day=first_day.isoformat(), cycles=total_days, staff=len(usernames) + admin_created,
        admin_created=admin_created, files=str(out_dir), seconds=round(time.monotonic() - started, 1),
        attempts_recorded=work["closed"] + work["retried"],
    )
    audit_record(actor=None, verb="demo.finished", object_type="demo", actor_label="demo",
                 after={k: v for k, v in summary.items() if k != "seconds"})
    return summary


# Hands-on coaching may be done at the store or at the city's club (the plan: 营业厅或俱乐部): the playbook lets
# the club take it (`takeable_by`). In the demo, each city's club staff take a few of the day's coaching
# visits from the stores, as customers come to the club's classes.
CLUB_SHARE = 3  # one task in this many


def _club_takes_coaching(*, today: dt.date) -> int:
    """Each city's club staff take (领取, through their own service) one in CLUB_SHARE of today's open tasks
    their club may take — the stores' coaching — in turns, so the club's staff have their day's work too."""
    club_staff: dict[int, list] = defaultdict(list)
    for profile in (
        StaffProfile.objects.filter(role="club_staff", active=True, user__is_active=True, unit__kind="club")
        .select_related("user", "unit")
        .order_by("user__username")
    ):
        club_staff[profile.unit.city_id].append(profile.user)
    taken = 0
    for people in club_staff.values():
        tasks = list(takeable_tasks(people[0]).filter(status="open", created_at__gte=clock.at_local(today)))
        for n, task in enumerate(tasks):
            if n % CLUB_SHARE:
                continue
            task_take(task=task, taken_by=people[(n // CLUB_SHARE) % len(people)])
            taken += 1
    return taken


def demo_summary(*, today: dt.date) -> dict[str, Any]:
    """What is there now: the figures the command prints and the examples it points to."""
    customers = Customer.objects.aggregate(
        total=Count("id"),
        vip=Count("id", filter=~_q(vip_tier=None)),
        prepaid=Count("id", filter=_q(product="prepaid")),
        cancelled=Count("id", filter=_q(status=CustomerStatus.CANCELLED)),
    )
    journeys = dict(Journey.objects.values_list("status").annotate(n=Count("id")).order_by())
    actions = dict(JourneyAction.objects.values_list("status").annotate(n=Count("id")).order_by())
    tasks = dict(Task.objects.values_list("status").annotate(n=Count("id")).order_by())
    sms = dict(OutboxMessage.objects.values_list("status").annotate(n=Count("id")).order_by())
    replies = dict(InboundMessage.objects.values_list("kind").annotate(n=Count("id")).order_by())
    today_start = clock.cycle_instant(today)
    vip = (
        Customer.objects.filter(account_manager__isnull=False, journey__status=JourneyStatus.ACTIVE)
        .filter(activated_on__lte=today - dt.timedelta(days=14))
        .order_by("-activated_on", "msisdn")
        .values_list("msisdn", flat=True)
        .first()
    ) or Customer.objects.exclude(vip_tier=None).order_by("msisdn").values_list("msisdn", flat=True).first()
    store = (
        Task.objects.filter(status__in=["open", "overdue"], owner_unit__kind="store")
        .values_list("owner_unit__code")
        .annotate(n=Count("id"))
        .order_by("-n", "owner_unit__code")
        .values_list("owner_unit__code", flat=True)
        .first()
    )
    return {
        "today": today.isoformat(),
        "customers": customers,
        "journeys": {status: journeys.get(status, 0) for status in JourneyStatus.values},
        "actions": actions,
        "tasks": {
            "open": tasks.get("open", 0),
            "overdue": tasks.get("overdue", 0),
            "opened_today": Task.objects.filter(created_at=today_start).count(),
            "closed": sum(n for status, n in tasks.items() if status not in ("open", "overdue")),
        },
        "sms": {"sent": sms.get(MessageStatus.SENT, 0), "queued": sms.get(MessageStatus.QUEUED, 0),
                "missed": sms.get(MessageStatus.MISSED, 0),
                "delivered": OutboxMessage.objects.filter(delivery=Delivery.DELIVERED).count()},
        "replies": {kind: replies.get(kind, 0) for kind in ReplyKind.values},
        "example_vip": vip,
        "example_store": store,
        "admin": {"username": ADMIN_USERNAME, "password": DEMO_PASSWORD},
    }


def _q(**lookup):
    return Q(**lookup)
