"""One daily cycle at a time per database; a cycle a dead process left `running` is recorded failed."""

from __future__ import annotations

import datetime as dt

import pytest

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import cycle
from onboard90.journeys.enums import CycleStatus
from onboard90.journeys.models import CycleRun
from onboard90.messaging.gateways import MemoryGateway

pytestmark = pytest.mark.django_db

DAY = dt.date(2012, 3, 1)


@pytest.fixture
def province():
    builders.city("jinan")
    builders.package("A66")
    builders.playbook_version()


def test_a_second_cycle_while_one_runs_is_refused_and_changes_nothing(province):
    with builders.held_elsewhere("cycle"), pytest.raises(cycle.CycleBusy, match="another daily cycle is running"):
        cycle.cycle_run(as_of=clock.cycle_instant(DAY), gateway=MemoryGateway())
    assert not CycleRun.objects.exists()
    run = cycle.cycle_run(as_of=clock.cycle_instant(DAY), gateway=MemoryGateway())
    assert run.status == CycleStatus.FINISHED


def test_a_cycle_left_running_by_a_dead_process_is_recorded_failed_by_the_next(province):
    as_of = clock.cycle_instant(DAY)
    dead = CycleRun.objects.create(as_of=as_of, started_at=clock.now(), status=CycleStatus.RUNNING)

    cycle.cycle_run(as_of=as_of, gateway=MemoryGateway())

    dead.refresh_from_db()
    assert dead.status == CycleStatus.FAILED and dead.finished_at is not None
    assert dead.counts == {"interrupted": True}
    assert CycleRun.objects.filter(status=CycleStatus.FINISHED).count() == 1
