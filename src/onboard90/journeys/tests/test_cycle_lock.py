"""One daily cycle at a time per database; a cycle a dead process left `running` is recorded failed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from onboard90 import testing as builders
from onboard90.core import clock, locks
from onboard90.journeys import services
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


class _held_elsewhere:
    """The cycle lock as another process would hold it (its own file handle / its own session)."""

    def __enter__(self):
        if connection.vendor == "postgresql":
            import psycopg

            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            self.other = psycopg.connect(**params, autocommit=True)
            self.other.execute("SELECT pg_advisory_lock(%s)", [locks.ADVISORY_KEYS["cycle"]])
        else:
            import fcntl
            import os

            path = locks.lock_path("cycle")
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if connection.vendor == "postgresql":
            self.other.close()
        else:
            import os

            os.close(self.fd)


def test_a_second_cycle_while_one_runs_is_refused_and_changes_nothing(province):
    with _held_elsewhere(), pytest.raises(services.CycleBusy, match="another daily cycle is running"):
        services.cycle_run(as_of=clock.cycle_instant(DAY), gateway=MemoryGateway())
    assert not CycleRun.objects.exists()
    run = services.cycle_run(as_of=clock.cycle_instant(DAY), gateway=MemoryGateway())
    assert run.status == CycleStatus.FINISHED


def test_a_cycle_left_running_by_a_dead_process_is_recorded_failed_by_the_next(province):
    as_of = clock.cycle_instant(DAY)
    dead = CycleRun.objects.create(as_of=as_of, started_at=clock.now(), status=CycleStatus.RUNNING)

    services.cycle_run(as_of=as_of, gateway=MemoryGateway())

    dead.refresh_from_db()
    assert dead.status == CycleStatus.FAILED and dead.finished_at is not None
    assert dead.counts == {"interrupted": True}
    assert CycleRun.objects.filter(status=CycleStatus.FINISHED).count() == 1
