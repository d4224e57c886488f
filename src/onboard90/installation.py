"""What a new database needs before anything else: the shipped reference data, catalogue and playbook.

`onboard90 init`, the demo and the bench all set a database up with `install_reference_data`. It sits
above org, catalog and playbook (which core must not import).
"""

from __future__ import annotations

from typing import Any

from onboard90.catalog.services import catalog_install
from onboard90.journeys.schedules import schedules_install
from onboard90.org.services import reference_data_install
from onboard90.playbook.services import playbook_install_default
from onboard90.usage.services import offers_install


def install_reference_data(*, installed_by: Any = None) -> dict[str, Any]:
    """Install the city branches and units, the catalogue, the offers and the default playbook; idempotent.

    Creates only what is missing and never overwrites an operator's edits, nor replaces a playbook
    already there. Returns {"cities", "units", "packages", "vip_tiers", "reference_items", "offers"} → {"created",
    "unchanged", "edited"} (see `install_rows`) and "playbook" → {"version", "name", "published"}, where
    `published` says whether this call published the shipped default.
    """
    counts = {
        **reference_data_install(installed_by=installed_by),
        **catalog_install(installed_by=installed_by),
        "offers": offers_install(installed_by=installed_by),
    }
    version, published = playbook_install_default(published_by=installed_by)
    return {**counts, "playbook": {"version": version.number, "name": version.name, "published": published}}


def install_schedules() -> dict[str, int]:
    """The named schedules of the Celery jobs (`journeys.schedules`), the missing ones only; `onboard90 init`."""
    return schedules_install()
