"""The web tests' province: two cities, a package, a VIP tier, the default playbook and a member of staff of
each role the customer page serves (the 济南 ones, and a clerk and a supervisor of 青岛 to be refused)."""

from __future__ import annotations

import pytest

from onboard90 import testing as builders
from onboard90.org.enums import Role


@pytest.fixture
def province():
    jinan, qingdao = builders.city("jinan"), builders.city("qingdao")
    builders.package("A66")
    builders.vip_tier("gold")
    builders.playbook_version()
    builders.scratch_database()
    return {
        "jinan": jinan, "qingdao": qingdao,
        "clerk": builders.staff("clerk", role=Role.STORE_CLERK, city_obj=jinan),
        "clerk_qd": builders.staff("clerk_qd", role=Role.STORE_CLERK, city_obj=qingdao),
        "agent": builders.staff("agent", role=Role.CALL_CENTRE_AGENT, city_obj=jinan),
        "manager": builders.staff("manager", role=Role.ACCOUNT_MANAGER, city_obj=jinan),
        "supervisor": builders.staff("boss", role=Role.SUPERVISOR, city_obj=jinan),
        "boss_qd": builders.staff("boss_qd", role=Role.SUPERVISOR, city_obj=qingdao),
    }
