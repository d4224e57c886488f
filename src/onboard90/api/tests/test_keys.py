"""System accounts' keys: made by the administrator, shown once and stored hashed, revocable, marked when
used; every route refuses a caller without a valid key (401), a flood of requests is throttled (429), and
the schema and the docs page are public and load nothing from elsewhere."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from onboard90.api import serializers
from onboard90.api import urls as api_urls
from onboard90.api.models import ApiKey
from onboard90.api.services import apikey_create, apikey_revoke
from onboard90.core.models import AuditEntry

pytestmark = pytest.mark.django_db
PUBLIC = {"api-schema", "api-docs"}


def api_routes() -> list[tuple[str, str, str]]:
    """(name, method, a concrete path) of every /api/v1 route, from the URL map itself."""
    routes = []
    samples = {"msisdn": "18600000001", "journey_id": "1", "task_id": "1", "escalation_id": "1"}
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern) and not isinstance(pattern, URLResolver)
        route = str(pattern.pattern)
        for name, value in samples.items():
            for conv in ("str", "int", "id"):
                route = route.replace(f"<{conv}:{name}>", value)
        assert "<" not in route, route
        view = pattern.callback.view_class
        methods = [m.upper() for m in ("get", "post") if hasattr(view, m)]
        routes += [(pattern.name, method, f"/api/v1/{route}") for method in methods]
    return routes


def test_every_api_route_is_in_the_url_map_under_api_v1():
    resolver = get_resolver()
    names = {name for name, _m, _p in api_routes()}
    assert {"api-events", "api-tasks", "api-customer", "api-compliance"} <= names
    for _name, _method, path in api_routes():
        assert resolver.resolve(path)


@pytest.mark.parametrize("name, method, path", api_routes())
def test_no_route_answers_without_a_key_but_the_schema_and_the_docs(province, name, method, path):
    client = APIClient()
    response = client.generic(method, path, data="{}", content_type="application/json")
    if name in PUBLIC:
        assert response.status_code == 200
    else:
        assert response.status_code == 401, (path, response.status_code)
        assert response["WWW-Authenticate"].startswith("Bearer")
        bad = APIClient()
        bad.credentials(HTTP_AUTHORIZATION="Bearer ob90_000000000000_nope")
        assert bad.generic(method, path, data="{}", content_type="application/json").status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/tasks/abc/complete", "/api/v1/tasks/%C3%98%0A/complete", "/api/v1/nothing/here"])
def test_a_path_under_the_api_that_is_no_route_is_the_apis_json_404_never_the_webs_page(bss, path):
    """Whatever the path holds (letters, a newline), under /api/v1/ the answer is the API's JSON."""
    response = bss.post(path, data="{}", content_type="application/json")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")


def test_a_key_is_shown_once_and_only_its_digest_is_kept(province):
    new = apikey_create(name="bss", scope="province")
    prefix, secret = new.token.split("_", 2)[1:]
    assert new.token.startswith("ob90_") and prefix == new.key.prefix
    stored = ApiKey.objects.get(pk=new.key.pk)
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps(list(ApiKey.objects.values()), default=str)
    assert stored.account.get_username() == "api:bss" and not stored.account.has_usable_password()
    assert (
        not hasattr(stored.account, "staff") or stored.account.staff is None
    )  # no profile row: never a person
    created = AuditEntry.objects.get(verb="apikey.create")
    assert created.after["name"] == "bss" and secret not in json.dumps(created.after)


def test_a_revoked_key_answers_401_and_the_account_may_have_a_new_one(province):
    new = apikey_create(name="crm", scope="city:jinan")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {new.token}")
    assert client.get("/api/v1/playbook/versions").status_code == 200
    assert ApiKey.objects.get(pk=new.key.pk).last_used_at is not None
    with pytest.raises(ValueError, match="already has a live key"):
        apikey_create(name="crm", scope="city:jinan")
    apikey_revoke(name="crm")
    assert client.get("/api/v1/playbook/versions").status_code == 401
    assert AuditEntry.objects.filter(verb="apikey.revoke", object_id=str(new.key.pk)).exists()
    again = apikey_create(name="crm", scope="city:qingdao")
    assert again.key.account_id == new.key.account_id and again.token != new.token


def test_a_wrong_secret_with_a_real_prefix_is_refused(province):
    new = apikey_create(name="cti", scope="province")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer ob90_{new.key.prefix}_not-the-secret")
    assert client.get("/api/v1/playbook/versions").status_code == 401


@pytest.mark.parametrize(
    "scope, message",
    [
        ("city:atlantis", "unknown city"),
        ("unit:jinan-am", "account manager"),
        ("galaxy", "invalid scope"),
        ("city:", "invalid scope"),
    ],
)
def test_a_scope_that_is_not_one_is_refused_with_the_valid_forms(province, scope, message):
    with pytest.raises(ValueError, match=message):
        apikey_create(name="bad", scope=scope)
    assert not ApiKey.objects.exists()


def test_the_command_prints_the_key_once_lists_without_secrets_and_revokes(province, capsys):
    call_command("apikey", "create", "bss", "--scope", "city:jinan")
    out = capsys.readouterr().out
    token = next(line for line in out.splitlines() if line.startswith("ob90_"))
    call_command("apikey", "list")
    listed = capsys.readouterr().out
    assert "bss" in listed and token.split("_", 2)[2] not in listed and "city:jinan" in listed
    call_command("apikey", "revoke", "bss")
    assert ApiKey.objects.get().revoked_at is not None


def test_requests_past_the_keys_rate_are_throttled_with_retry_after(province, settings):
    settings.ONBOARD90 = {**settings.ONBOARD90, "API_RATE": "3/min"}
    new = apikey_create(name="bss", scope="province")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {new.token}")
    codes = [client.get("/api/v1/playbook/versions").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = client.get("/api/v1/playbook/versions")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    other = apikey_create(name="crm", scope="province")  # another key counts on its own
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {other.token}")
    assert client.get("/api/v1/playbook/versions").status_code == 200


def test_the_schema_describes_every_field_and_the_docs_page_loads_nothing_from_elsewhere(province):
    schema = APIClient().get("/api/v1/schema/", {"format": "json"})
    assert schema.status_code == 200
    document = json.loads(schema.content)
    assert "/api/v1/events" in document["paths"] and "/api/v1/tasks/{task_id}/complete" in document["paths"]
    undescribed = [
        f"{name}.{field}"
        for name, component in document["components"]["schemas"].items()
        for field, spec in component.get("properties", {}).items()
        if not spec.get("description") and field not in ("id",)
    ]
    assert undescribed == []
    examples = document["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"][
        "examples"
    ]
    named = {name.lower().replace("_", "") for name in examples}
    assert {t.replace("_", "") for t in serializers.EVENT_TYPES} <= named
    page = APIClient().get("/api/v1/docs/")
    html = page.content.decode()
    assert page.status_code == 200 and "swagger-ui" in html
    assert "http://" not in html.replace("http://testserver", "") and "https://" not in html
