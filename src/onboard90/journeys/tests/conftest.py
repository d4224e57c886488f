"""Fixtures shared by the engine's tests."""

from __future__ import annotations

import pytest

from onboard90 import testing as builders
from onboard90.messaging.gateways import MemoryGateway
from onboard90.org.enums import Role


@pytest.fixture
def province():
    """济南 with its four units, an agent, a clerk, an account manager and a supervisor; the default playbook."""
    city = builders.city("jinan")
    builders.package("A66")
    builders.package("P20", product="prepaid", family="prepaid", monthly_fee=20, voice_min=0, data_mb=0, sms=0)
    for code in ("diamond", "gold", "silver"):
        builders.vip_tier(code)
    builders.playbook_version()
    return {
        "city": city,
        "clerk": builders.staff("clerk", role=Role.STORE_CLERK, city_obj=city),
        "agent": builders.staff("agent", role=Role.CALL_CENTRE_AGENT, city_obj=city),
        "manager": builders.staff("manager", role=Role.ACCOUNT_MANAGER, city_obj=city),
        "supervisor": builders.staff("boss", role=Role.SUPERVISOR, city_obj=city),
        "gateway": MemoryGateway(),
    }
