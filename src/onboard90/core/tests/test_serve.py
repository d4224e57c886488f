"""`onboard90 serve`: gunicorn with DEBUG off, the pages, static files (htmx, ECharts), `/healthz`, and
`/metrics` summing the requests of every worker process.

Runs the real command in a child process on its own SQLite database in a scratch folder, as an operator
would after `onboard90 init`.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def serve_var(tmp_path_factory):
    return tmp_path_factory.mktemp("serve-var")


@pytest.fixture(scope="module")
def server(serve_var):
    var = serve_var
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ONBOARD90_DEBUG", "ONBOARD90_CLOCK")}
    env["ONBOARD90_VAR"] = str(var)
    subprocess.run([sys.executable, "-m", "onboard90", "init"], env=env, check=True, capture_output=True, timeout=300)
    (var / "metrics").mkdir()
    (var / "metrics" / "counter_999999.db").write_bytes(b"\0" * 8)  # left by a server that stopped
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "onboard90", "serve", "--port", str(port), "--workers", "2", "--threads", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if get(f"{base}/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError(f"serve did not answer: {proc.communicate(timeout=10)}")
    yield base, proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_healthz_reports_the_database_answers(server):
    base, _ = server
    status, body = get(f"{base}/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "database": "ok"}


def test_runs_gunicorn_with_debug_off(server):
    base, proc = server
    status, body = get(f"{base}/no-such-page/")
    assert status == 404
    assert "Traceback" not in body and "URLconf" not in body  # Django's debug page would show both
    ps = subprocess.run(["ps", "-o", "args=", "--ppid", str(proc.pid)], capture_output=True, text=True)
    assert ps.stdout.count("onboard90") >= 2  # the gunicorn arbiter forked its two workers


def test_sign_in_page_is_chinese_first_and_the_workbench_needs_it(server):
    base, _ = server
    status, body = get(f"{base}/login/")
    assert status == 200
    assert 'lang="zh-hans"' in body and "登录" in body
    status, body = get(f"{base}/")
    assert status == 200 and "/login/" in body or 'name="password"' in body


def test_serves_static_files_and_the_front_end_assets(server):
    base, _ = server
    status, body = get(f"{base}/static/admin/css/base.css")
    assert status == 200 and "body" in body
    status, body = get(f"{base}/static/vendor/htmx/htmx.min.js")
    assert status == 200 and "htmx" in body
    status, body = get(f"{base}/static/vendor/echarts/echarts.min.js")
    assert status == 200 and "echarts" in body
    status, body = get(f"{base}/static/web/app.css")
    assert status == 200 and "--brand" in body


def test_metrics_sum_the_requests_of_every_worker_process(server, serve_var):
    from prometheus_client.parser import text_string_to_metric_families

    base, proc = server

    def healthz_requests() -> float:
        status, body = get(f"{base}/metrics")
        assert status == 200
        return sum(
            sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
            if sample.name == "django_http_requests_latency_seconds_by_view_method_count"
            and sample.labels == {"view": "healthz", "method": "GET"}
        )

    def workers_and_counted() -> tuple[set[str], set[str]]:
        """The server's worker processes, and the processes that have counted (each in files of its own:
        prometheus-client's multiprocess mode)."""
        ps = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True)
        counted = {path.stem.rsplit("_", 1)[1] for path in (serve_var / "metrics").glob("*.db")}
        return set(ps.stdout.split()), counted

    before = healthz_requests()
    # A new connection each, until both workers have answered some: which worker takes a connection is the
    # kernel's choice, and on a busy machine one can take twenty in a row.
    sent, deadline = 0, time.monotonic() + 60
    while True:
        assert get(f"{base}/healthz")[0] == 200
        sent += 1
        workers, counted = workers_and_counted()
        if sent >= 20 and len(workers) == 2 and workers <= counted:
            break
        assert time.monotonic() < deadline, f"after {sent} requests, workers {workers}, counted {counted}"
        time.sleep(0.02)
    assert healthz_requests() == before + sent
    assert "999999" not in counted  # the earlier server's files are gone
