"""The figures' jobs on Celery workers: a thin wrapper over one service."""

from __future__ import annotations

from onboard90.core import clock
from onboard90.core.celery_app import app
from onboard90.reporting.services import dashboards_refresh as refresh


@app.task(name="onboard90.dashboards_refresh")
def dashboards_refresh(day: str | None = None) -> dict:
    """看板预计算 of `day` (YYYY-MM-DD; default today), sent after the day's cycle finishes."""
    done = refresh(today=clock.parse_date(day) if day else clock.today())
    return {"day": done.today.isoformat(), "dashboards": len(done.scopes), "seconds": round(done.seconds, 2)}
