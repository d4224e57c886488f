"""How the engine follows what the apps below it report (see their `signals`; connected in `journeys.apps`).

- A customer written for the first time starts a journey on the current playbook; a customer who left
  (离网) exits theirs — in the transaction that wrote the customer (`customers.signals`).
- An act delivered by SMS alone is done when its message has left, missed when the message cannot (its
  window closed, the daily limit crowded it out, the gateway gave up) — in the transaction that recorded the
  messages (`messaging.signals`).

The apps below report and never import the engine; this module is the one place where their reports become
acts.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef

from onboard90.journeys.enums import RUNNING, ActionStatus
from onboard90.journeys.models import JourneyAction, Task
from onboard90.journeys.services import journey_exit, journeys_start


def start_journeys_of_new_customers(sender, *, customer_ids: list[int], at: dt.datetime, **kwargs) -> None:
    journeys_start(customer_ids=customer_ids, at=at)


def exit_journeys_of_leavers(sender, *, exits, **kwargs) -> None:
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
