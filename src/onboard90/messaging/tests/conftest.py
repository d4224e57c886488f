"""The outbox's tests start from messages the daily cycle queued, not from rows written by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import cycle
from onboard90.messaging.enums import MessageStatus
from onboard90.messaging.kannel_local import CallbackReceiver, KannelPeer, kannel_missing
from onboard90.messaging.models import OutboxMessage

DAY0 = dt.date(2012, 3, 1)


def all_on_day_0() -> dict:
    """The default playbook with every day-0 notice leaving on day 0 and no daily limit: these tests are about
    the dispatcher's clock and crash handling, with a full round of messages due at once. The spreading and
    the limit have their own tests (test_daily_limit)."""
    from onboard90.playbook.services import default_document

    document = default_document()
    document["sms_daily_limit"] = 20
    for stage in document["stages"]:
        for action in stage["actions"]:
            if "sms" in action:
                action["sms"]["send_day"] = 0
    return document


@pytest.fixture
def queue_at():
    """`queue_at(as_of)`: five new customers activated on day 0, whose day-0 SMS the cycle at `as_of`
    queues and does not send; returns how many were queued."""

    def queue(as_of: dt.datetime) -> int:
        city = builders.city("jinan")
        builders.package("A66")
        builders.playbook_version(all_on_day_0())
        for _ in range(5):
            builders.customer(city_obj=city, activated_on=DAY0)
        cycle.cycle_run(as_of=as_of, dispatch=False)
        count = OutboxMessage.objects.filter(status=MessageStatus.QUEUED).count()
        assert count >= 10
        return count

    return queue


@pytest.fixture
def queued(queue_at):
    """Five new customers' day-0 SMS, queued by the day-0 cycle (09:00) and not yet sent."""
    return queue_at(clock.cycle_instant(DAY0))


# -- the real Kannel (tests marked `kannel`) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def callbacks():
    """A receiver of Kannel's delivery reports and replies, on a loopback port, for the module's tests."""
    with CallbackReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def running_kannel(request, callbacks, tmp_path_factory):
    """A real bearerbox, smsbox and fake SMS centre for the module, reporting to `callbacks` with the module's
    `SECRET` (each module its own, so one cannot pass with the other's)."""
    if kannel_missing():
        pytest.skip(kannel_missing())
    folder = tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2])
    with KannelPeer(folder, callback_base=callbacks.url, callback_secret=request.module.SECRET) as peer:
        yield peer
