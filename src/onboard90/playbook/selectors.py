"""Reads of the playbook: the current version and the parsed document of any version."""

from __future__ import annotations

from functools import lru_cache

from onboard90.playbook import schema
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


def versions_in_use() -> list[PlaybookVersion]:
    """Versions that active journeys run on (the cycle works through each).

    One index probe per published version rather than a DISTINCT over every active journey: there are a
    handful of versions and a million journeys.
    """
    from django.db.models import Exists, OuterRef

    from onboard90.journeys.enums import JourneyStatus
    from onboard90.journeys.models import Journey

    active = Journey.objects.filter(playbook_version=OuterRef("pk"), status=JourneyStatus.ACTIVE)
    return list(PlaybookVersion.objects.filter(Exists(active)).order_by("number"))
