"""The API's test world: 济南 and 青岛 as the import tests build them, the wall clock on 2012-05-20 (a scratch
database), a key per scope, and a client that sends a key."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from onboard90 import testing as builders
from onboard90.api.services import apikey_create
from onboard90.core import clock
from onboard90.customers.tests.files import NOW, world


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()  # the throttle counts in the shared cache: each test starts from nothing
    yield
    cache.clear()


@pytest.fixture
def province(db):
    made = world()
    builders.scratch_database()
    with clock.simulated(NOW):
        yield made


def key_client(scope: str, name: str | None = None) -> APIClient:
    """A client sending a new key of this scope (the account named after the scope unless `name`)."""
    name = name or scope.replace(":", "-").replace("_", "-")
    new = apikey_create(name=name, scope=scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {new.token}")
    client.token = new.token
    client.key = new.key
    return client


@pytest.fixture
def bss(province):
    return key_client("province", "bss")


@pytest.fixture
def jinan_key(province):
    return key_client("city:jinan")


@pytest.fixture
def qingdao_key(province):
    return key_client("city:qingdao")


@pytest.fixture
def store_key(province):
    return key_client("unit:jinan-store-1")
