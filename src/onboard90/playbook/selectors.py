"""Reads of the playbook: the current version, the parsed document of any version, its acts as rows, and what
changed between two versions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from onboard90.core import clock
from onboard90.playbook import diff, schema
from onboard90.playbook.models import PlaybookVersion


def current_version() -> PlaybookVersion:
    """The newest published version; new journeys start on it."""
    version = PlaybookVersion.objects.order_by("-number").first()
    if version is None:
        raise LookupError("no playbook is published yet: run `onboard90 init` (or `onboard90 playbook load PATH`)")
    return version


@lru_cache(maxsize=64)
def _parsed(version_id: int, checksum: str) -> schema.Playbook:
    document = PlaybookVersion.objects.values_list("document", flat=True).get(pk=version_id)
    return schema.validate(document)


def playbook_of(version: PlaybookVersion) -> schema.Playbook:
    """The validated playbook of a version (versions are immutable, so this is cached)."""
    return _parsed(version.pk, version.checksum)


def version_numbered(number: int | str | None) -> PlaybookVersion | None:
    """The version with this number, or None (also for a number that does not parse)."""
    try:
        return PlaybookVersion.objects.select_related("published_by").get(number=int(number))
    except (TypeError, ValueError, PlaybookVersion.DoesNotExist):
        return None


def version_choices() -> list[tuple[int, str]]:
    """(number, "v3 名称 · 2012-03-05 14:30") for every version, newest first, for a picker."""
    return [
        (number, f"v{number} {name} · {published_at.astimezone(clock.OPERATOR_TZ):%Y-%m-%d %H:%M}")
        for number, name, published_at in PlaybookVersion.objects.order_by("-number").values_list(
            "number", "name", "published_at"
        )
    ]


@dataclass(frozen=True)
class ActRow:
    """One act with where it sits: `index` and `stage_index` give its path in the document."""

    stage: schema.Stage
    stage_index: int
    action: schema.Action
    index: int

    @property
    def path(self) -> str:
        return f"stages[{self.stage_index}].actions[{self.index}]"

    @property
    def channel(self) -> str | None:
        return self.action.task.channel if self.action.task else None


def act_rows(playbook: schema.Playbook, *, stage: str | None = None, channel: str | None = None) -> list[ActRow]:
    """The acts of a playbook in document order, optionally of one stage and/or one task channel
    (`channel="none"`: acts without a staff task — SMS and system acts)."""
    rows = [
        ActRow(each_stage, i, action, j)
        for i, each_stage in enumerate(playbook.stages)
        for j, action in enumerate(each_stage.actions)
    ]
    if stage:
        rows = [row for row in rows if row.stage.code == stage]
    if channel == "none":
        rows = [row for row in rows if row.channel is None]
    elif channel:
        rows = [row for row in rows if row.channel == channel]
    return rows


def act_row(playbook: schema.Playbook, code: str) -> ActRow | None:
    return next((row for row in act_rows(playbook) if row.action.code == code), None)


def stage_index(playbook: schema.Playbook, code: str) -> int | None:
    return next((i for i, stage in enumerate(playbook.stages) if stage.code == code), None)


def versions_diff(before: PlaybookVersion, after: PlaybookVersion) -> diff.DocumentDiff:
    """What changed from `before` to `after` (either order: an older one may be compared with a newer)."""
    return diff.document_diff(before.document, after.document)
