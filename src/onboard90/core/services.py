"""Writes shared by every app: the audit log and the scratch-database mark."""

from __future__ import annotations

import datetime as dt
from typing import Any

from onboard90.core import clock
from onboard90.core.models import AuditEntry, ScratchDatabase
from onboard90.core.origin import current_origin


def audit_record(
    *,
    actor: Any | None,
    verb: str,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    before: dict | None = None,
    after: dict | None = None,
    claimed_at: dt.datetime | None = None,
    actor_label: str = "",
) -> AuditEntry:
    """Append one audit row. `actor` is a User or None (the system / the command line).

    Where it came from (the web and the client's address, the command line…) is the `core.origin` of the
    request or command being served. The row's time is always the real instant it is written; a time the act claims for itself (a
    completion entered from yesterday's paper sheet) goes beside it as `claimed_at`, never instead of it.
    """
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    label = actor_label or (actor.get_username() if actor is not None else "system")
    origin = current_origin()
    return AuditEntry.objects.create(
        at=clock.now(),
        channel=origin.channel,
        remote_addr=origin.remote_addr,
        claimed_at=claimed_at,
        actor=actor,
        actor_label=label,
        verb=verb,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )


def scratch_mark(*, purpose: str, marked_by: Any | None = None) -> bool:
    """Mark this database as a scratch one (演练库) that accepts a simulated clock; True if newly marked.

    Called by what builds a database of simulated history (the demo, the bench, `init --scratch`), never
    by anything an operator's daily work goes through.
    """
    if ScratchDatabase.objects.exists():
        return False
    ScratchDatabase.objects.create(purpose=purpose)
    audit_record(actor=marked_by, verb="database.mark_scratch", object_type="core.scratchdatabase", after={"purpose": purpose})
    return True
