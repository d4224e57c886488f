"""Signing in: every page behind it, throttled guessing, safe cookies, and the audit's "from where"."""

import pytest
from django.contrib.auth import get_user_model

from onboard90.core.models import AuditEntry
from onboard90.core.services import audit_record

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-enough-pass-99"


@pytest.fixture
def clerk():
    return get_user_model().objects.create_user("clerk", password=PASSWORD)


def test_the_workbench_asks_an_anonymous_visitor_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_sign_in_page_is_chinese_first(client):
    body = client.get("/login/").content.decode()
    assert 'lang="zh-hans"' in body and "用户名" in body and "密码" in body


def test_a_wrong_password_is_refused_with_a_clear_message(client, clerk):
    response = client.post("/login/", {"username": "clerk", "password": "wrong"})
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode()


def test_five_wrong_passwords_lock_the_account_out_even_with_the_right_one(client, clerk):
    for _ in range(5):
        client.post("/login/", {"username": "clerk", "password": "wrong"})
    response = client.post("/login/", {"username": "clerk", "password": PASSWORD})
    assert response.status_code == 429
    assert "暂时无法登录" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_signing_in_sets_httponly_samesite_session_cookie(client, clerk):
    response = client.post("/login/", {"username": "clerk", "password": PASSWORD})
    assert response.status_code == 302
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_post_without_csrf_token_is_refused():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/login/", {"username": "clerk", "password": PASSWORD})
    assert response.status_code == 403


def test_an_audit_row_written_during_a_web_request_names_the_channel_and_address(rf, clerk):
    from onboard90.core.origin import OriginMiddleware

    def view(request):
        audit_record(actor=clerk, verb="test.web", object_type="test")
        from django.http import HttpResponse

        return HttpResponse("ok")

    OriginMiddleware(view)(rf.get("/anything/", REMOTE_ADDR="10.1.2.3"))

    entry = AuditEntry.objects.get(verb="test.web")
    assert (entry.channel, entry.remote_addr) == ("web", "10.1.2.3")


def test_healthz_answers_without_sign_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "ok"}


def test_the_language_switch_turns_the_frame_english(client, clerk):
    client.force_login(clerk)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    body = client.get("/").content.decode()
    assert 'lang="en"' in body
