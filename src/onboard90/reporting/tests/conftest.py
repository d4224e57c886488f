"""Fixtures of the dashboard's figures: two cities of a province walked through their first days."""

from __future__ import annotations

import pytest

from onboard90 import testing as builders
from onboard90.messaging.gateways import MemoryGateway
from onboard90.org.enums import Role


@pytest.fixture(autouse=True)
def dispatch_at_the_cycles_instant(monkeypatch):
    builders.dispatch_at_the_cycles_instant(monkeypatch)


@pytest.fixture
def province():
    """济南 and 青岛 with their units, a clerk, an agent and a supervisor each, and the default playbook."""
    builders.package("A66")
    builders.package("P20", product="prepaid", family="prepaid", monthly_fee=20, voice_min=0, data_mb=0, sms=0)
    for code in ("diamond", "gold", "silver"):
        builders.vip_tier(code)
    builders.playbook_version()
    made = {"gateway": MemoryGateway()}
    for code in ("jinan", "qingdao"):
        city = builders.city(code)
        made[code] = {
            "city": city,
            "clerk": builders.staff(f"clerk_{code}", role=Role.STORE_CLERK, city_obj=city),
            "agent": builders.staff(f"agent_{code}", role=Role.CALL_CENTRE_AGENT, city_obj=city),
            "supervisor": builders.staff(f"boss_{code}", role=Role.SUPERVISOR, city_obj=city),
        }
    return made
