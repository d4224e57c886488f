"""The daily cycle's log, structured: one line for its plan, one per piece with the piece's name, stage and
counts, one for its finish with the run's counts — in JSON (ONBOARD90_LOG_FORMAT=json) as fields a log
collector reads without parsing the text."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging

import pytest

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.core.logs import JsonFormatter
from onboard90.journeys import cycle
from onboard90.journeys.models import CyclePiece

pytestmark = pytest.mark.django_db

DAY = dt.date(2012, 3, 1)


@pytest.fixture
def json_log():
    """The lines the `onboard90.journeys` logger writes at INFO through the JSON formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(time_zone="Asia/Shanghai"))
    logger = logging.getLogger("onboard90.journeys")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_cycle_logs_one_json_line_per_piece_with_its_name_stage_and_counts(province, json_log):
    for _ in range(3):
        builders.customer(city_obj=province["city"], activated_on=DAY)

    run = cycle.cycle_run(as_of=clock.cycle_instant(DAY), gateway=province["gateway"])

    lines = json_log()
    pieces = {p.name: p for p in CyclePiece.objects.filter(run=run).exclude(name="plan")}
    logged = [line for line in lines if line.get("event") == "cycle_piece"]
    assert len(logged) == len(pieces) >= 2 and {line["piece"] for line in logged} == set(pieces)
    for line in logged:
        piece = pieces[line["piece"]]
        assert line["counts"] == piece.counts and line["stage"] == piece.stage
        assert line["run_id"] == run.pk and line["as_of"] == "2012-03-01"
        assert line["seconds"] >= 0 and line["logger"] == "onboard90.journeys" and line["level"] == "INFO"
        first = next(iter(line["counts"]))  # opened, for a window group
        assert line["message"].startswith(f"cycle 2012-03-01: piece {line['piece']} {first}=")
    assert sum(line["counts"].get("opened", 0) for line in logged) == run.counts["opened"] > 0
    # The shared steps are pieces too, after the window groups: overdue, the dispatch, the journeys' ends.
    assert [line["piece"] for line in logged][-3:] == ["overdue.0", "dispatch", "closing.0"]

    plan = [line for line in lines if line.get("event") == "cycle_plan"]
    finish = [line for line in lines if line.get("event") == "cycle_finish"]
    assert len(plan) == 1 and plan[0]["pieces"] == len(pieces) and plan[0]["run_id"] == run.pk
    assert plan[0]["counts"] == CyclePiece.objects.get(run=run, name="plan").counts
    assert len(finish) == 1 and finish[0]["counts"] == run.counts and finish[0]["run_id"] == run.pk
    assert finish[0]["cycle_seconds"] == round((run.finished_at - run.started_at).total_seconds(), 3)
    assert [line["event"] for line in lines if "event" in line] == ["cycle_plan", *["cycle_piece"] * len(pieces),
                                                                    "cycle_finish"]  # fmt: skip


def test_a_piece_delivered_again_after_it_committed_logs_nothing_more(province, json_log):
    builders.customer(city_obj=province["city"], activated_on=DAY)
    run = cycle.cycle_start(as_of=clock.cycle_instant(DAY))
    name = cycle.stage_pieces(run_id=run.pk, stage=0)[0]
    cycle.piece_run(run_id=run.pk, name=name)
    cycle.piece_run(run_id=run.pk, name=name)

    assert [line["piece"] for line in json_log() if line.get("event") == "cycle_piece"] == [name]
