"""The data-surge alert (流量突增提醒, act `data_surge_alert`) at the daily cycle: from the usage that arrived
overnight to the customer's SMS.

`surge_alerts` is a step of the cycle, run in `cycle.cycle_begin` right after `usage_acts.usage_verdicts`,
which claims the usage loads for the run (this step reads what they wrote and claims nothing itself: a second
claim here would take loads committed since, which package fit would then never see). For each playbook
version in use that has the act, the customers in an active journey on it whose act audience admits them are
handed to `usage.alerts`, which judges their new days set-based against the playbook's thresholds
(`data_surge`) and records the alerts, one per threshold per bill month (the database's unique key: a rerun
inserts nothing twice). Each alert this cycle inserted is then told by SMS, in the same transaction as the
alert, so an alert is never on file without its message or the reason it has none.

Why not a window-opened act like the others: an alert can fire several times in one journey (a day surge,
80 %, 100 %, in each bill month), and an act opens once per journey (`JourneyAction`'s unique key). So the
alert is the customer's `usage.SurgeAlert`, and its SMS an outbox message without an act (`Purpose`
`data_surge_alert`) that the dispatcher's sending policy treats as the plan's own: sending hours, the
playbook's daily cap, never after its window (`not_after`). The act's window is read from the day the alert
is raised (`data_surge` anchor: start 0, end 0 = that day, by the last second of it).

The SMS:

* its text is rendered now, by the dispatcher's renderer (`messaging.services.messages_render`) from the act's
  template with `alert` in the context (`usage.alerts.alert_context`); the dispatcher never renders it later (it
  has no act to find the template by). A template that fails for this customer records the message failed, with
  the reason;
* one SMS per customer per cycle: a day that sets off several alerts at once (a surge that also takes the month
  past 80 %, or past 80 % and 100 % together) tells the customer once, of the highest share of the allowance
  reached, else of the surge; every alert of that day is linked to that message;
* the act's `sms.audience` and the customer's opt-out apply as for every act's SMS (`engine.queue_messages`):
  a customer who opted out (TD/退订) gets no *marketing* SMS, and service notices still go. The shipped alert
  is a service notice (about charges the customer is running up); a playbook that makes it marketing has its
  opted-out customers' alerts recorded with no message.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from onboard90.core import clock
from onboard90.core.bulk import chunks, update_rows
from onboard90.customers.models import Customer
from onboard90.journeys import audience_sql
from onboard90.journeys.enums import JourneyStatus
from onboard90.journeys.models import CycleRun
from onboard90.journeys.rules import windows
from onboard90.messaging.enums import MessageStatus, Purpose
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.policy import next_send_time
from onboard90.messaging.services import messages_render
from onboard90.playbook import schema
from onboard90.playbook.models import PlaybookVersion
from onboard90.playbook.selectors import playbook_of
from onboard90.usage import alerts, surge
from onboard90.usage.models import SurgeAlert, SurgeKind, UsageLoad

SURGE_ACT = "data_surge_alert"
MESSAGE_BATCH = 2000  # customers whose SMS are rendered and written together


def thresholds_of(playbook: schema.Playbook) -> surge.SurgeThresholds:
    """The playbook's data-surge thresholds as `usage.surge` reads them."""
    rules = playbook.data_surge
    return surge.SurgeThresholds(
        multiple=rules.multiple,
        min_mb=rules.min_mb,
        min_days=rules.min_days,
        month_percents=tuple(rules.month_percents),
    )


def surge_alerts(*, run: CycleRun, versions: Sequence[PlaybookVersion], today: dt.date) -> dict[str, int]:
    """Raise the data-surge alerts the usage claimed by `run` sets off and queue their SMS (see the module's
    text). Returns the counts: alerts recorded, SMS queued."""
    counts = {"surge_alerts": 0, "surge_sms": 0}
    if not UsageLoad.objects.filter(consumed_by=run.pk).exists():
        return counts  # no usage arrived since the previous cycle
    for version in versions:
        playbook = playbook_of(version)
        try:
            action = playbook.action(SURGE_ACT)
        except KeyError:
            continue
        customers = Customer.objects.filter(
            journey__status=JourneyStatus.ACTIVE, journey__playbook_version=version
        ).filter(audience_sql.to_q(action.audience, prefix=""))
        found = alerts.surge_alerts_find(
            customers, run_id=run.pk, today=today, thresholds=thresholds_of(playbook)
        )
        if not found:
            continue
        with transaction.atomic():
            raised = alerts.surge_alerts_store(found=found, run_id=run.pk)
            counts["surge_alerts"] += len(raised)
            counts["surge_sms"] += _tell(
                raised, version=version, playbook=playbook, action=action, as_of=run.as_of, today=today
            )
    return counts


def _telling(raised: list[SurgeAlert]) -> SurgeAlert:
    """The alert a customer's SMS tells of, among those raised for them at once: the highest share of the
    allowance reached, else the day surge (the first day, if a file brought several)."""
    return max(raised, key=lambda a: (a.kind == SurgeKind.MONTH_SHARE, a.percent, -a.day.toordinal()))


def send_times(playbook: schema.Playbook, action: schema.Action, *, as_of: dt.datetime, today: dt.date):
    """(scheduled_at, not_after) of an alert raised `today` by the cycle at `as_of`: from the next opening of
    the sending hours (on the window's `sms.send_day`) to the last second of the window's last day."""
    span = windows.window_span(today, action.window.start, action.window.end)
    send_day = action.sms.send_day if action.sms else 0
    earliest = max(as_of, clock.at_local(span.start + dt.timedelta(days=send_day)))
    scheduled_at = next_send_time(earliest, playbook.quiet_hours.start, playbook.quiet_hours.end)
    return scheduled_at, windows.due_at(span)


def _tell(
    raised: list[SurgeAlert],
    *,
    version: PlaybookVersion,
    playbook: schema.Playbook,
    action: schema.Action,
    as_of: dt.datetime,
    today: dt.date,
) -> int:
    """Queue one SMS per customer for the alerts just raised, rendered at once through the dispatcher's own
    renderer (`messaging.services.messages_render`, with the alert in the context), and link it on them.
    Returns the SMS queued (a failed render included: it is on file, recorded failed)."""
    spec = action.sms
    if spec is None or not raised:
        return 0
    scheduled_at, not_after = send_times(playbook, action, as_of=as_of, today=today)
    by_customer: dict[int, list[SurgeAlert]] = defaultdict(list)
    for alert in raised:
        by_customer[alert.customer_id].append(alert)

    def contexts(customer_ids: list[int]) -> dict[int, dict[str, Any]]:
        return {pk: {"alert": alerts.alert_context(_telling(by_customer[pk]))} for pk in customer_ids}

    audience = audience_sql.to_q(spec.audience, prefix="")
    queued = 0
    for chunk in chunks(sorted(by_customer), MESSAGE_BATCH):
        told = Customer.objects.filter(pk__in=chunk).filter(audience)
        if spec.message_class == "marketing":
            told = told.filter(marketing_opt_out=False)
        messages = [
            OutboxMessage(
                action=None, purpose=Purpose.DATA_SURGE_ALERT, customer_id=customer_id, msisdn=msisdn,
                message_class=spec.message_class, text="", status=MessageStatus.QUEUED, scheduled_at=scheduled_at,
                not_after=not_after, created_at=as_of,
            )
            for customer_id, msisdn in told.order_by("pk").values_list("pk", "msisdn")
        ]  # fmt: skip
        if not messages:
            continue
        OutboxMessage.objects.bulk_create(messages, batch_size=MESSAGE_BATCH)
        ids = [message.pk for message in messages]
        # These messages by their customers' range (the outbox is partitioned by customer on PostgreSQL) and ids.
        written = OutboxMessage.objects.filter(
            customer_id__gte=chunk[0], customer_id__lte=chunk[-1], pk__gte=min(ids), pk__lte=max(ids),
            purpose=Purpose.DATA_SURGE_ALERT,
        )
        messages_render(messages=written, extra=contexts, act=(version.pk, action.code), record_failures=True)
        update_rows(
            SurgeAlert,
            ["message"],
            ((alert.pk, message.pk) for message in messages for alert in by_customer[message.customer_id]),
        )
        queued += len(messages)
    return queued
