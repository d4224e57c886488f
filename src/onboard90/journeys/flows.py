"""How the engine follows what the apps below it report (see their `signals`; connected in `journeys.apps`).

- A customer written for the first time starts a journey on the current playbook; a customer who left
  (离网) exits theirs — in the transaction that wrote the customer (`customers.signals`).
- An act delivered by SMS alone is done when its message has left, missed when the message cannot (its
  window closed, the daily limit crowded it out, the gateway gave up) — in the transaction that recorded the
  messages (`messaging.signals`).
- A customer's reply answers the act waiting for it: a 1–5 score the onboarding survey, a yes the value-added
  offer, whose interest becomes a follow-up task for the customer's store — in the transaction that stores the
  reply (`messaging.signals.reply_received`).

The apps below report and never import the engine; this module is the one place where their reports become
acts.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, F, OuterRef

from onboard90.core import clock
from onboard90.journeys.enums import RUNNING, ActionStatus, JourneyStatus, TaskKind
from onboard90.journeys.models import JourneyAction, Task
from onboard90.journeys.signals import tasks_created
from onboard90.messaging.enums import MessageStatus, ReplyKind

# Every process imports this module as it starts (`journeys.apps` connects its receivers), the command line's
# included: the engine's services and usage's verdicts (NumPy, the playbook's schema) are imported where first
# called, so that a start-up does not pay for them.


def start_journeys_of_new_customers(sender, *, customer_ids: list[int], at: dt.datetime, **kwargs) -> None:
    from onboard90.journeys.services import journeys_start  # on first call: see the imports

    journeys_start(customer_ids=customer_ids, at=at)


def exit_journeys_of_leavers(sender, *, exits, **kwargs) -> None:
    from onboard90.journeys.services import journey_exit  # on first call: see the imports

    for customer, at in exits:
        journey_exit(customer=customer, at=at, reason="cancellation")


def record_acts_delivered_by_sms(
    sender, *, at: dt.datetime, delivered: list[int], undelivered: dict[str, list[int]], **kwargs
) -> None:
    _close_sms_only_acts(delivered, ActionStatus.DONE, at)
    for reason, action_ids in undelivered.items():
        _close_sms_only_acts(action_ids, ActionStatus.MISSED, at, reason=reason)


def _close_sms_only_acts(action_ids, status: str, at: dt.datetime, reason: str = "") -> int:
    """Acts among `action_ids` still running and with no staff task (a task closes its act itself)."""
    if not action_ids:
        return 0
    return (
        JourneyAction.objects.filter(pk__in=action_ids, status__in=RUNNING)
        .filter(~Exists(Task.objects.filter(action=OuterRef("pk"))))
        .update(status=status, closed_at=at, reason=reason)
    )


# The acts a reply can answer: the survey asks for a 1–5 score, the value-added offer (增值业务推荐) for a yes.
SURVEY_ACT = "onboarding_survey"
OFFER_ACT = "vas_recommendation"
# An act takes answers on every day of its window unless it ended otherwise (missed, superseded, cancelled, not
# applicable): running, or done — an act delivered by SMS alone is done the moment its message leaves, which is
# exactly when the answers start coming.
ANSWERABLE = (*RUNNING, ActionStatus.DONE, ActionStatus.DONE_LATE)
# The follow-up of an accepted offer (增值业务意向跟进): the store calls back within two days, twice at most.
FOLLOW_UP_TITLE = "增值业务意向跟进"
FOLLOW_UP_DAYS = 2
FOLLOW_UP_ATTEMPTS = 2

_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


def answer_reply(
    sender, *, customer_id: int, received_at: dt.datetime, text: str, score: int | None, accepts: bool, **kwargs
) -> tuple[str, int] | None:
    """The act a customer's reply answers (see `messaging.signals.reply_received`), and what follows from it.

    - A score (1–5) answers the customer's onboarding survey when the reply's local date is in its window.
    - A yes answers the value-added offer when the reply's local date is in its window, the offer's SMS left
      before the reply, and the journey is still on (no follow-up for a customer who left). It becomes a
      follow-up task for the customer's store (one per offer, however often the customer says yes).
    - "1" is both a score and a yes: when both acts could take it, the one whose SMS left last is the one
      the customer is answering (an act whose SMS had not reached them before the reply loses).

    Returns (ReplyKind, act id), or None when no act was waiting for this reply.
    """
    codes = ([SURVEY_ACT] if score is not None else []) + ([OFFER_ACT] if accepts else [])
    if not codes:
        return None
    day = clock.local_date(received_at)
    acts = JourneyAction.objects.filter(
        journey__customer_id=customer_id, action_code__in=codes, status__in=ANSWERABLE,
        window_start__lte=day, window_end__gte=day,
    ).annotate(
        sms_status=F("sms__status"), sms_sent_at=F("sms__sent_at"), journey_status=F("journey__status"),
        store_id=F("journey__customer__store_id"),
    )
    candidates = [act for act in acts if act.action_code == SURVEY_ACT or _offer_open(act, received_at)]
    if not candidates:
        return None
    act = max(candidates, key=lambda a: (_seen_since(a, received_at), a.pk))
    if act.action_code == SURVEY_ACT:
        return ReplyKind.SURVEY_SCORE.value, act.pk
    _follow_up_offer(act, at=received_at, text=text)
    from onboard90.usage.verdicts import offer_accepted  # on first call: see the imports

    offer_accepted(customer_id=customer_id, at=received_at)  # the offer chosen for them, if one was named
    return ReplyKind.OFFER_ACCEPTED.value, act.pk


def _seen_since(act: JourneyAction, received_at: dt.datetime) -> dt.datetime:
    """When the customer got the act's SMS, if before the reply; else never (it cannot be what they answer)."""
    sent = act.sms_sent_at
    return sent if act.sms_status == MessageStatus.SENT and sent is not None and sent <= received_at else _NEVER


def _offer_open(act: JourneyAction, received_at: dt.datetime) -> bool:
    return (
        act.sms_status == MessageStatus.SENT and act.sms_sent_at is not None and act.sms_sent_at <= received_at
        and act.journey_status == JourneyStatus.ACTIVE
    )


def _follow_up_offer(act: JourneyAction, *, at: dt.datetime, text: str) -> Task | None:
    """A task on the customer's store's worklist to call back about the offer they accepted, due at the end
    of the second day; None when the offer has one already (the customer said yes again).

    The task is the act's own (kind `act`, `Task.action` is one to one): the playbook's act is to recommend
    and follow up whoever shows interest, so completing the follow-up records the act's outcome as any act's
    task does. Task has no title: the note starts with FOLLOW_UP_TITLE and quotes the reply.
    """
    list(JourneyAction.objects.select_for_update().filter(pk=act.pk).values_list("pk"))  # one yes at a time
    if Task.objects.filter(action_id=act.pk).exists():
        return None
    local = at.astimezone(clock.OPERATOR_TZ)
    task = Task.objects.create(
        action_id=act.pk,
        journey_id=act.journey_id,
        customer_id=act.customer_id,
        kind=TaskKind.ACT,
        owner_unit_id=act.store_id,
        status=ActionStatus.OPEN,
        due_at=clock.end_of_day(local.date() + dt.timedelta(days=FOLLOW_UP_DAYS)),
        created_at=at,
        max_attempts=FOLLOW_UP_ATTEMPTS,
        note=f"{FOLLOW_UP_TITLE}：客户于{local:%m月%d日 %H:%M}短信回复“{text.strip()[:60]}”，请联系客户办理。",
    )
    tasks_created.send(sender=Task, tasks=Task.objects.filter(pk=task.pk), at=at)
    return task
