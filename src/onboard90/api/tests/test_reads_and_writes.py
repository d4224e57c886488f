"""Reads and writes as the web allows them: masked lists, the full number audited, the journey document and
the compliance report of the command line, worklists with cursors, completing (409 when closed meanwhile),
reassigning (supervisors only), opting out and acknowledging escalations — and a key of another city
reaches none of it (404 or an empty list), on every route of the URL map."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from onboard90 import testing as builders
from onboard90.api.tests.test_keys import api_routes
from onboard90.core import clock
from onboard90.core.models import AuditEntry
from onboard90.journeys import cycle, selectors
from onboard90.journeys.enums import RUNNING
from onboard90.journeys.models import Escalation, Task, TaskAttempt

pytestmark = pytest.mark.django_db
DAY0 = dt.date(2012, 5, 14)


@pytest.fixture
def worked(province):
    """A customer in 济南 and one in 青岛, activated on DAY0 and left alone: by 2012-05-20 their store acts are
    overdue and escalated, and their callbacks are open."""
    jinan = builders.customer(city_obj=province.jinan, activated_on=DAY0, msisdn="18600001234", name="张三")
    qingdao = builders.customer(city_obj=province.qingdao, activated_on=DAY0, msisdn="18600005678")
    for day in range(7):
        cycle.cycle_run(as_of=clock.cycle_instant(DAY0 + dt.timedelta(days=day)), dispatch=False)
    return jinan, qingdao


def running_task(customer, unit_kind: str = "store") -> Task:
    return (
        Task.objects.filter(
            journey__customer=customer, status__in=RUNNING, kind="act", owner_unit__kind=unit_kind
        )
        .order_by("pk")
        .first()
    )


def test_the_customer_search_is_masked_and_scoped(worked, jinan_key, qingdao_key):
    found = jinan_key.get("/api/v1/customers", {"msisdn": "1234"}).json()
    assert [(c["masked_msisdn"], c["masked_name"]) for c in found] == [("186****1234", "张*")]
    assert "18600001234" not in str(found)
    assert qingdao_key.get("/api/v1/customers", {"msisdn": "1234"}).json() == []
    assert jinan_key.get("/api/v1/customers", {"msisdn": "12"}).status_code == 400


def test_the_full_number_is_shown_once_per_read_and_audited_as_the_webs(worked, jinan_key):
    customer, _ = worked
    answer = jinan_key.get(f"/api/v1/customers/{customer.msisdn}")
    assert answer.status_code == 200 and answer.json()["msisdn"] == customer.msisdn
    viewed = AuditEntry.objects.get(verb="customer.viewed")
    assert (viewed.actor_label, viewed.channel, viewed.object_id) == (
        "api:city-jinan",
        "api",
        str(customer.pk),
    )


def test_the_journey_is_the_command_lines_document(worked, bss):
    customer, _ = worked
    answer = bss.get(f"/api/v1/journeys/{customer.journey.pk}")
    assert answer.status_code == 200
    assert answer.json() == selectors.journey_document(msisdn=customer.msisdn, as_of=clock.now())


def test_tasks_are_the_callers_and_a_cursor_walks_them_all_in_due_order(worked, jinan_key):
    customer, _ = worked
    whole = jinan_key.get("/api/v1/tasks", {"status": "all"}).json()
    ids = [t["id"] for t in whole["results"]]
    assert ids and set(ids) == set(
        Task.objects.filter(journey__customer=customer).values_list("pk", flat=True)
    )
    walked, cursor = [], None
    while True:
        page = jinan_key.get(
            "/api/v1/tasks", {"status": "all", "limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        walked += [t["id"] for t in page["results"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert walked == ids
    assert all("****" in t["masked_msisdn"] for t in whole["results"])
    first = whole["results"][0]
    only = jinan_key.get("/api/v1/tasks", {"status": "all", "action": first["action"]}).json()["results"]
    assert {t["action"] for t in only} == {first["action"]}
    assert jinan_key.get("/api/v1/tasks", {"status": "nonsense"}).status_code == 400
    assert jinan_key.get("/api/v1/tasks", {"due_from": "2012-13-01"}).status_code == 400
    assert jinan_key.get("/api/v1/tasks", {"cursor": "!!"}).status_code == 400
    # A NUL character in a filter is refused with the reason, never a 500: PostgreSQL's text cannot hold it (the
    # look-up of the unit fails in the database), SQLite finds no such unit.
    nul = jinan_key.get("/api/v1/tasks", {"unit": "a\x00b"})
    assert nul.status_code == 400 and nul.json()["detail"], nul.content


def test_completing_records_the_system_account_and_a_second_completion_is_409(worked, store_key):
    customer, _ = worked
    task = running_task(customer)
    answer = store_key.post(
        f"/api/v1/tasks/{task.pk}/complete", {"outcome": "reached", "note": "到店"}, format="json"
    )
    assert answer.status_code == 200 and answer.json()["status"] in ("done", "done_late")
    attempt = TaskAttempt.objects.get(task=task)
    assert attempt.by.get_username() == "api:unit-jinan-store-1"
    again = store_key.post(f"/api/v1/tasks/{task.pk}/complete", {"outcome": "reached"}, format="json")
    assert again.status_code == 409
    assert (
        store_key.post(f"/api/v1/tasks/{task.pk}/complete", {"outcome": "maybe"}, format="json").status_code
        == 400
    )


def test_only_a_supervisor_reassigns(worked, store_key, jinan_key):
    customer, _ = worked
    task = running_task(customer)
    assert (
        store_key.post(
            f"/api/v1/tasks/{task.pk}/reassign", {"to_unit": "jinan-store-2"}, format="json"
        ).status_code
        == 403
    )
    moved = jinan_key.post(f"/api/v1/tasks/{task.pk}/reassign", {"to_unit": "jinan-store-2"}, format="json")
    assert moved.status_code == 200 and moved.json()["owner_unit"] == "jinan-store-2"
    assert (
        jinan_key.post(
            f"/api/v1/tasks/{task.pk}/reassign", {"to_unit": "qingdao-store-1"}, format="json"
        ).status_code
        == 400
    )


def test_an_escalation_is_acknowledged_once(worked, jinan_key, store_key):
    escalation = Escalation.objects.filter(unit__city__code="jinan").first()
    assert escalation is not None
    assert (
        store_key.post(f"/api/v1/escalations/{escalation.pk}/acknowledge", {}, format="json").status_code
        == 403
    )
    first = jinan_key.post(
        f"/api/v1/escalations/{escalation.pk}/acknowledge", {"note": "已电话"}, format="json"
    )
    assert first.status_code == 200 and first.json()["acknowledged_by"] == "api:city-jinan"
    assert (
        jinan_key.post(f"/api/v1/escalations/{escalation.pk}/acknowledge", {}, format="json").status_code
        == 409
    )


def test_the_compliance_report_is_the_command_lines_and_a_city_gets_its_own(
    worked, bss, jinan_key, store_key
):
    answer = bss.get("/api/v1/reports/compliance", {"by": "city"})
    assert answer.status_code == 200
    assert answer.json() == selectors.compliance_report(by="city", as_of=clock.now())
    city = jinan_key.get("/api/v1/reports/compliance", {"by": "city"}).json()
    assert [row["city"] for row in city["rows"]] == ["济南"] and city["total"]["city"] == "全市 / city"
    assert store_key.get("/api/v1/reports/compliance").status_code == 403
    assert bss.get("/api/v1/reports/compliance", {"by": "planet"}).status_code == 400


def test_opting_out_uses_the_replies_service_and_the_sms_list_shows_status(worked, jinan_key):
    customer, _ = worked
    assert jinan_key.post(f"/api/v1/customers/{customer.msisdn}/opt-out", {}, format="json").json() == {
        "status": "updated"
    }
    customer.refresh_from_db()
    assert customer.marketing_opt_out
    assert jinan_key.post(f"/api/v1/customers/{customer.msisdn}/opt-out", {}, format="json").json() == {
        "status": "unchanged"
    }
    messages = jinan_key.get(f"/api/v1/customers/{customer.msisdn}/messages")
    assert messages.status_code == 200 and all("status" in m for m in messages.json())


def test_the_playbook_versions_are_listed(worked, store_key):
    versions = store_key.get("/api/v1/playbook/versions").json()
    assert [v["current"] for v in versions] == [True]


@pytest.mark.parametrize(
    "name, method, path", [r for r in api_routes() if r[0] not in ("api-schema", "api-docs")]
)
def test_a_key_of_another_city_reaches_nothing_on_any_route(worked, qingdao_key, name, method, path):
    customer, _ = worked
    task = running_task(customer)
    escalation = Escalation.objects.filter(unit__city__code="jinan").first()
    path = (
        path.replace("18600000001", customer.msisdn)
        .replace("journeys/1", f"journeys/{customer.journey.pk}")
        .replace("tasks/1/", f"tasks/{task.pk}/")
        .replace("escalations/1/", f"escalations/{escalation.pk}/")
    )
    body = {"outcome": "reached", "to_unit": "jinan-store-2"} if method == "POST" else None
    if name == "api-events":
        body = {
            "type": "cancellation",
            "msisdn": customer.msisdn,
            "at": "2012-05-20",
            "idempotency_key": "qd-x",
        }
    params = {"msisdn": customer.msisdn} if name == "api-customers" else {}
    if method == "POST":
        answer = qingdao_key.generic(method, path, data=json.dumps(body), content_type="application/json")
    else:
        answer = qingdao_key.get(path, params)
    text = answer.content.decode()
    if name == "api-events":  # refused in the words of an unknown number (the caller's own input echoed)
        assert answer.status_code == 422 and answer.json()["status"] == "rejected"
        assert "unknown customer" in answer.json()["errors"]["msisdn"][0]
    else:
        assert customer.msisdn not in text and "186****1234" not in text
    if name == "api-events":
        pass  # checked above
    elif name == "api-customers":
        assert answer.status_code == 200 and answer.json() == []
    elif name == "api-tasks":  # their own city's work only
        assert answer.status_code == 200 and {t["masked_msisdn"] for t in answer.json()["results"]} == {
            "186****5678"
        }
    elif name == "api-compliance":
        assert answer.status_code == 200 and "济南" not in text
    elif name == "api-playbook-versions":
        assert answer.status_code == 200  # not a record of any city
    else:
        assert answer.status_code == 404, (path, answer.status_code, text)
    customer.refresh_from_db()
    assert customer.status == "active" and not customer.marketing_opt_out
