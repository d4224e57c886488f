"""The acts that read usage at the daily cycle: package-fit coaching (套餐合适度辅导) and the value-added
recommendation (增值业务推荐).

`usage_verdicts` is a step of the cycle, run after the run is created and *before* the change log is
claimed (see `cycle.cycle_run`). For the customers whose act's window is open (their activation day in
it) and who have no verdict yet, and for those in it whose verdict's inputs moved since it was made (the
ended months it is priced on, as the usage loads the cycle claims wrote them — `usage.verdicts.loads_claim`,
`package_fit_stale` —, or the package), it prices their packages; for those with no offer chosen yet, or not
yet sent one and whose first month a claimed load wrote (`offers_stale`), it chooses their offer; set-based
(`usage.verdicts`), and it stores the result. The verdict is then a customer fact like any
other (`package_fit` in the audience language): the call opens for "does not fit", the confirming SMS for
"fits". A verdict that is new or moved appends a line to the customers' change log, so the same cycle's
delta looks at that customer again (a call for a customer whose usage now says the package does not fit).

Why here and not in the usage app or the import: usage is below the engine and knows nothing of acts and
windows; the import runs many times a day and touches every customer, while a verdict is needed only
once a customer's window opens (about a ninetieth of them on a day) and again when their usage moves.

After the acts open, `annotate_tasks` writes the verdict onto the package-fit call's task (the agent reads
the recommendation, the saving and why on the task itself), and `render_messages` writes the two acts'
SMS with the customer's verdict and offer in their context (`fit`, `offer`), in the transaction that
queued them, so no dispatcher ever sees them unrendered. Any other SMS is rendered by the dispatcher; these
templates fall back to their general text when `fit`/`offer` is absent (`onboard90 sms preview`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from onboard90.core.bulk import chunks, insert_objects, update_rows
from onboard90.core.planner import among, broad, broad_on_sqlite
from onboard90.customers.models import Customer, CustomerChange
from onboard90.journeys.enums import CycleStatus, JourneyStatus
from onboard90.journeys.models import CycleRun, JourneyAction, Task
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.services import messages_render
from onboard90.playbook import schema
from onboard90.playbook.models import PlaybookVersion
from onboard90.playbook.selectors import playbook_of
from onboard90.usage import fit, verdicts
from onboard90.usage.models import OfferChoice, PackageFitVerdict, UsageMonth

FIT_ACT = "package_fit_coaching"
OFFER_ACT = "vas_recommendation"
USAGE_ACTS = (FIT_ACT, OFFER_ACT)
TASK_NOTE_PREFIX = "套餐适配结论："


def thresholds_of(playbook: schema.Playbook) -> fit.Thresholds:
    """The playbook's package-fit thresholds (whole percents) as the verdict reads them."""
    return fit.Thresholds(
        saving_percent=playbook.package_fit.saving_percent,
        min_use_percent=playbook.package_fit.min_use_percent,
    )


def _in_window(playbook: schema.Playbook, code: str, *, version: PlaybookVersion, today: dt.date):
    """The customers on `version` whose act `code` is in its window today (activation-anchored acts)."""
    try:
        action = playbook.action(code)
    except KeyError:
        return None
    window = action.window
    if window.anchor != "activation":
        return None
    lo, hi = today - dt.timedelta(days=window.end), today - dt.timedelta(days=window.start)
    return Customer.objects.filter(
        activated_on__range=(lo, hi), journey__status=JourneyStatus.ACTIVE, journey__playbook_version=version
    )


def usage_verdicts(*, run: CycleRun, versions: Sequence[PlaybookVersion], today: dt.date) -> dict[str, int]:
    """Package-fit verdicts and offer choices for the customers whose acts' windows are open and who have
    none yet or whose verdict's inputs or usage moved since (see the module's text). Returns the counts."""
    unfinished = (
        CycleRun.objects.exclude(status=CycleStatus.FINISHED).exclude(pk=run.pk).values_list("pk", flat=True)
    )
    verdicts.loads_claim(run_id=run.pk, unfinished=list(unfinished))
    counts = {"fit_verdicts": 0, "offers_chosen": 0}
    moved: set[int] = set()
    # Only a customer with usage on file can have a verdict or an offer: without this, every customer in a
    # window whose usage has not arrived (a province whose usage feed is late, or not connected) would be read
    # and priced again at every cycle, for nothing.
    with_usage = Exists(UsageMonth.objects.filter(customer_id=OuterRef("pk")))
    for version in versions:
        playbook = playbook_of(version)
        in_window = _in_window(playbook, FIT_ACT, version=version, today=today)
        if in_window is not None:
            todo = verdicts.package_fit_stale(in_window.filter(with_usage), run_id=run.pk, today=today)
            found = verdicts.package_fit_verdicts(todo, today=today, thresholds=thresholds_of(playbook))
            moved.update(verdicts.package_fit_store(verdicts=found, today=today))
            counts["fit_verdicts"] += len(found)
        in_window = _in_window(playbook, OFFER_ACT, version=version, today=today)
        if in_window is not None:
            todo = verdicts.offers_stale(in_window.filter(with_usage), run_id=run.pk)
            counts["offers_chosen"] += verdicts.offer_choices_store(
                choices=verdicts.offer_choices(todo), today=today
            )
    # A verdict is a fact the audiences read: its customers join this cycle's delta like any changed customer.
    insert_objects(CustomerChange, (CustomerChange(customer_id=pk) for pk in sorted(moved)))
    return counts


def annotate_tasks(*, version: PlaybookVersion, action: schema.Action, as_of: dt.datetime, after: int) -> int:
    """The package-fit call's tasks just created (ids above `after`, read before the cycle's piece created
    them) carry the verdict in their note: the recommended package, the monthly saving in yuan and why,
    where the agent works the task."""
    if action.code != FIT_ACT or action.task is None:
        return 0
    # Driven by the new tasks' ids, each act probed by id and customer (`_act_of`): a filter on the creation
    # instant reads every task on file (65M at a national scale).
    of_act = _act_of(FIT_ACT, version=version)
    rows = list(
        Task.objects.filter(Exists(of_act), pk__gt=after, created_at=as_of, note="").values_list("pk", "customer_id")
    )
    written = 0
    for chunk in chunks(rows, 5000):
        found = {
            v.customer_id: v
            for v in PackageFitVerdict.objects.filter(customer_id__in=[c for _, c in chunk]).only(
                "customer_id", "recommended", "saving", "explanation", "verdict"
            )
        }
        written += update_rows(
            Task, ["note"], ((pk, c, task_note(found[c])) for pk, c in chunk if c in found), key="customer"
        )
    return written


def _act_of(code: str, *, version: PlaybookVersion) -> QuerySet:
    """The row's act, if it is one of `code` on `version`: for EXISTS, probed by its id and customer.

    By id and customer, not the id alone: on PostgreSQL the acts are partitioned by customer, and the id
    alone would be looked up in every partition. The code is `broad`: the newest partition holds the day's
    new customers, whose acts its statistics have not seen; taking the code for rare there, PostgreSQL
    would walk all of the code's acts in it once for every row (quadratic in the day's work).
    """
    return JourneyAction.objects.filter(
        *broad(action_code=code), pk=OuterRef("action_id"), customer_id=OuterRef("customer_id"),
        journey__playbook_version=version,
    )


def task_note(verdict: PackageFitVerdict) -> str:
    context = verdicts.fit_context(verdict)
    assert context is not None
    if verdict.verdict == "fits":
        return f"{TASK_NOTE_PREFIX}现套餐合适。{verdict.explanation}"
    return f"{TASK_NOTE_PREFIX}推荐改用{context['recommended']}，每月可省{context['saving']}元。{verdict.explanation}"


def render_messages(*, version: PlaybookVersion, action: schema.Action, as_of: dt.datetime, after: int) -> int:
    """Write the text of this act's SMS just queued (ids above `after`, read before the cycle's piece queued
    them) with the customer's verdict and offer in the context (`fit`, `offer`: None when there is none),
    through the dispatcher's own renderer (`messaging.services.messages_render`). A message whose template
    fails here is left for the dispatcher to render (and to record if it fails). The offers named by the SMS
    written are recorded made."""
    if action.code not in USAGE_ACTS or action.sms is None:
        return 0
    offered: set[int] = set()

    def contexts(customer_ids: list[int]) -> dict[int, dict[str, Any]]:
        fits = {
            verdict.customer_id: verdicts.fit_context(verdict)
            for verdict in PackageFitVerdict.objects.filter(among("customer_id", customer_ids)).only(
                "customer_id", "verdict", "recommended", "saving", "current_cost", "explanation"
            )
        }
        offers = {
            choice.customer_id: verdicts.offer_context(choice)
            for choice in OfferChoice.objects.filter(among("customer_id", customer_ids)).select_related("offer")
        }
        if action.code == OFFER_ACT:
            offered.update(offers)
        return {pk: {"fit": fits.get(pk), "offer": offers.get(pk)} for pk in customer_ids}

    # Only the new messages are candidates: every SMS of the day still queued is a million at a national scale.
    new = OutboxMessage.objects.filter(Exists(_act_of(action.code, version=version)), pk__gt=after)
    # All of one act, named: the renderer need not join each message to its act (by its id alone, which on
    # PostgreSQL is looked up in every partition of the acts) to find the template.
    rendered = messages_render(messages=new, extra=contexts, act=(version.pk, action.code))
    for made in chunks(sorted(offered.intersection(rendered)), 2000):  # a statement's parameters are bounded
        verdicts.offers_made(customer_ids=made, at=as_of)
    return len(rendered)


def record_offer_taken(*, task: Task, outcome: str, at: dt.datetime) -> int:
    """The offer's follow-up closed with the customer reached: the offer counts as taken up (办理) — the
    store calls only those who said yes, and records a change of mind as `refused`."""
    if task.action.action_code != OFFER_ACT:  # the act is at hand: no query for every other task
        return 0
    return record_offers_taken(closed=[(task.pk, outcome, at)])


def record_offers_taken(*, closed: Sequence[tuple[int, str, dt.datetime]]) -> int:
    """`record_offer_taken` for many closed tasks at once — (task id, outcome, at) — as a dialler's file or
    the demo's staff close them (`tasks_complete_bulk`): one read of the offer follow-ups among them."""
    reached = {task_id: at for task_id, outcome, at in closed if outcome == "reached"}
    taken = 0
    for ids in chunks(sorted(reached), 2000):
        # Driven by the task ids: SQLite, without statistics, would walk every offer act on file by its code
        # instead (a second a call on the demo's province) and probe each one's task.
        follow_ups = Task.objects.filter(*broad_on_sqlite(action__action_code=OFFER_ACT), pk__in=ids).values_list(
            "pk", "customer_id"
        )
        for task_id, customer_id in follow_ups:
            taken += verdicts.offer_taken(customer_id=customer_id, at=reached[task_id], via="task")
    return taken
