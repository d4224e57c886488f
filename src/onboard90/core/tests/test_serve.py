"""`onboard90 serve`: the web app and its static files on the built-in threaded server."""

import threading
import urllib.request

import pytest

from onboard90.core.management.commands.serve import make_server


@pytest.fixture
def server():
    srv = make_server(host="127.0.0.1", port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    srv.server_close()


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8")


def test_serves_the_admin_login_page_in_chinese(server):
    status, body = get(f"{server}/admin/login/")
    assert status == 200
    assert 'lang="zh-hans"' in body


def test_serves_static_files_with_debug_off(server, settings):
    assert settings.DEBUG is False
    status, body = get(f"{server}/static/admin/css/base.css")
    assert status == 200 and "body" in body
