"""Writes shared by every app: the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from onboard90.core import clock
from onboard90.core.models import AuditEntry


def audit_record(
    *,
    actor: Any | None,
    verb: str,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    before: dict | None = None,
    after: dict | None = None,
    at: dt.datetime | None = None,
    actor_label: str = "",
) -> AuditEntry:
    """Append one audit row. `actor` is a User or None (the system / the command line)."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    label = actor_label or (actor.get_username() if actor is not None else "system")
    return AuditEntry.objects.create(
        at=at or clock.now(),
        actor=actor,
        actor_label=label,
        verb=verb,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )
