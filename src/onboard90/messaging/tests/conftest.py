"""The outbox's tests start from messages the daily cycle queued, not from rows written by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import services as journey_services
from onboard90.messaging.enums import MessageStatus
from onboard90.messaging.models import OutboxMessage

DAY0 = dt.date(2012, 3, 1)


@pytest.fixture
def queue_at():
    """`queue_at(as_of)`: five new customers activated on day 0, whose day-0 SMS the cycle at `as_of`
    queues and does not send; returns how many were queued."""

    def queue(as_of: dt.datetime) -> int:
        city = builders.city("jinan")
        builders.package("A66")
        builders.playbook_version()
        for _ in range(5):
            builders.customer(city_obj=city, activated_on=DAY0)
        journey_services.cycle_run(as_of=as_of, dispatch=False)
        count = OutboxMessage.objects.filter(status=MessageStatus.QUEUED).count()
        assert count >= 10
        return count

    return queue


@pytest.fixture
def queued(queue_at):
    """Five new customers' day-0 SMS, queued by the day-0 cycle (09:00) and not yet sent."""
    return queue_at(clock.cycle_instant(DAY0))
