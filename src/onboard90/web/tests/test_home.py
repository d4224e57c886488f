"""The home page: today's figures and compliance by city, in Chinese first."""

import datetime as dt

import pytest

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import services
from onboard90.messaging.gateways import MemoryGateway

pytestmark = pytest.mark.django_db


def test_home_lists_todays_figures_and_compliance_by_city(client):
    city = builders.city("jinan")
    builders.package("A66")
    builders.playbook_version()
    for _ in range(3):
        builders.customer(city_obj=city, activated_on=dt.date(2012, 3, 1))
    for day in (1, 2, 3, 6):
        services.cycle_run(as_of=clock.cycle_instant(dt.date(2012, 3, day)), gateway=MemoryGateway())

    response = client.get("/")

    assert response.status_code == 200
    body = response.content.decode()
    assert 'lang="zh-hans"' in body
    assert "进行中的旅程 / active journeys</th><td>3<" in body
    assert "各地市合规 / compliance by city" in body
    assert "<td>济南</td>" in body
    assert "2012-03-06" in body


def test_home_before_any_cycle_says_so(client):
    body = client.get("/").content.decode()
    assert "尚未运行 / not yet run" in body
