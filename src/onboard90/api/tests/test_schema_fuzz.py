"""Schemathesis over the API's own schema (`/api/v1/schema/`), against a live server on loopback and a key
of the province: for every operation a bounded number of generated requests — valid and malformed — and not
one answer is a server error (5xx), has a status the schema does not list, a content type it does not
declare, or a body that does not match the schema."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from onboard90 import testing as builders
from onboard90.api.tests.conftest import key_client
from onboard90.core import clock
from onboard90.journeys import cycle

pytestmark = pytest.mark.django_db(transaction=True)
# Requests per operation and mode (valid, then malformed): 14 operations, the whole test well under two
# minutes on either database.
EXAMPLES = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def served(province, live_server, settings):
    """A live server with a little work on file (two customers a week into their journeys) and a province
    key; the key's rate lifted, since this test is about the answers, not the throttle."""
    settings.ONBOARD90 = {**settings.ONBOARD90, "API_RATE": "100000/min"}
    day0 = dt.date(2012, 5, 14)
    builders.customer(city_obj=province.jinan, activated_on=day0, msisdn="18600001234", name="张三")
    builders.customer(city_obj=province.qingdao, activated_on=day0, msisdn="18600005678")
    for day in range(7):
        cycle.cycle_run(as_of=clock.cycle_instant(day0 + dt.timedelta(days=day)), dispatch=False)
    return live_server.url, key_client("province", "bss").token


def test_no_generated_request_gets_a_server_error_or_an_answer_off_the_schema(served):
    base_url, token = served
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/schema/")
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    tried, failures = [], {}
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            # A generated Host header names another server, not an input of the API: Django refuses a host not
            # in ALLOWED_HOSTS with 400 before any view runs (the web server's answer, not the API's).
            if case.headers:
                case.headers = {name: value for name, value in case.headers.items() if name.lower() != "host"}
            response = case.call(base_url=base_url, headers=headers, timeout=30)
            case.validate_response(response, checks=CHECKS, headers=headers)
            tried.append(response.status_code)

        try:
            check()
        except (
            Exception,
            BaseExceptionGroup,
        ) as exc:  # every operation is tried; all that failed are reported together
            failures[f"{operation.label} ({mode.value})"] = str(exc)[:3000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    assert len(tried) >= len(operations) * 10 and any(200 <= code < 300 for code in tried)
