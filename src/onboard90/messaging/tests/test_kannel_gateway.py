"""The Kannel gateway: Kannel's answers, classified as the dispatcher must act on them, and the real thing.

The first half runs against a small stand-in for smsbox's sendsms that answers what each test tells it to
(Kannel's own answers, an error, silence): every outcome class, the keep-alive connection and its reopening,
without Kannel. The second half (`kannel`) runs Debian's Kannel on loopback with its fake SMS centre
(`kannel_local`): Chinese text reaches the handset as UCS-2, long text as concatenated parts, the delivery
report comes back carrying our message id, an SMS centre outage queues, a gateway outage refuses at once,
a wrong password is refused for good and a handset's reply reaches the get-url as UTF-8.
"""

from __future__ import annotations

import http.server
import itertools
import socket
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ImproperlyConfigured

from onboard90.messaging import gateways
from onboard90.messaging.gateways import (
    PERMANENT,
    QUEUED,
    SENT,
    TRANSIENT,
    UNKNOWN,
    SendResult,
    gateway_from_settings,
)
from onboard90.messaging.kannel import (
    DLR_MASK,
    DLR_PATH,
    MAX_PARTS,
    MO_PATH,
    KannelGateway,
    kannel_status_meaning,
    sms_coding,
    sms_parts,
)
from onboard90.messaging.kannel_local import (
    free_port,
    reassemble,
)

WELCOME = "欢迎加入山东联通3G！您的90天服务计划今天开始，客户经理将在三天内与您联系。"
SECRET = "dlr/s3cr%t é"  # characters Kannel would read as escapes or that need URL-encoding


# -- outcome classification, against a stand-in for smsbox's sendsms -----------------------------------------


class Sendsms:
    """A local HTTP/1.1 server (keep-alive) answering sendsms requests as `answer` says: (status, body),
    "silent" (reads the request, never answers) or "drop" (reads the request and hangs up)."""

    def __init__(self) -> None:
        self.answer: tuple[int, str] | str = (202, "0: Accepted for delivery")
        self.requests: list[dict[str, str]] = []
        self.connections = 0
        self.hang_up_after_answer = False  # answer as if keeping the connection, then close it
        self.hung_up = 0
        self.released = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes: no delayed-ACK stall between

            def setup(self) -> None:
                super().setup()
                outer.connections += 1

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer.requests.append(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query)))
                if outer.answer == "silent":
                    outer.released.wait(10)
                    self.close_connection = True
                    return
                if outer.answer == "drop":
                    self.close_connection = True
                    return
                status, body = outer.answer
                payload = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                if outer.hang_up_after_answer:
                    self.wfile.flush()
                    self.request.shutdown(socket.SHUT_WR)
                    self.close_connection = True
                    outer.hung_up += 1

            def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's name)
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/sendsms"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sendsms():
    server = Sendsms()
    yield server
    server.close()


def gateway_for(
    url: str, *, timeout: float = 2, password: str = "s3cret", callback_base: str = "http://cb.test"
):
    return KannelGateway(
        sendsms_url=url,
        username="onboard90",
        password=password,
        sender="10086",
        callback_base=callback_base,
        callback_secret=SECRET,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("status", "body", "ok", "fate"),
    [
        (202, "0: Accepted for delivery", True, SENT),
        (202, "3: Queued for later delivery", True, QUEUED),
        (403, "Authorization failed for sendsms", False, PERMANENT),
        (403, "Not routable. Do not try again.", False, PERMANENT),
        (400, "Coding field misformed, rejected", False, PERMANENT),
        (500, "Sending failed.", False, TRANSIENT),
        (503, "Temporal failure, try again later.", False, TRANSIENT),
    ],
)
def test_each_kannel_answer_gets_its_fate(sendsms, status, body, ok, fate):
    sendsms.answer = (status, body)
    result = gateway_for(sendsms.url).send(msisdn="18612345678", text=WELCOME, message_id=41)
    assert (result.ok, result.fate) == (ok, fate)
    if ok:
        assert result.ref == "kannel:41" and result.error == ""
    else:
        assert result.error == f"Kannel {status}: {body}"


def test_the_request_carries_the_text_its_coding_and_a_delivery_report_url_with_our_id(sendsms):
    gateway = gateway_for(sendsms.url)
    gateway.send(msisdn="18612345678", text=WELCOME, message_id=41)
    gateway.send(msisdn="18612345679", text="Your PIN is 1234 [ok]", message_id=42)
    chinese, ascii_ = sendsms.requests
    assert chinese == {
        "username": "onboard90",
        "password": "s3cret",
        "from": "10086",
        "to": "18612345678",
        "text": WELCOME,
        "coding": "2",
        "charset": "UTF-8",
        "dlr-mask": str(DLR_MASK),
        "dlr-url": "http://cb.test/sms/kannel/dlr?id=41&status=%d&ts=%T&to=%p&reply=%A"
        "&secret=dlr%%2Fs3cr%%25t%%20%%C3%%A9",
    }
    assert DLR_MASK == 1 | 2 | 4 | 8 | 16
    assert (ascii_["text"], ascii_["coding"], ascii_["charset"]) == ("Your PIN is 1234 [ok]", "0", "UTF-8")
    assert ascii_["dlr-url"].startswith(f"http://cb.test{DLR_PATH}?id=42&status=%d&")


def test_no_answer_within_the_timeout_is_unknown_not_a_failure_to_resend(sendsms):
    sendsms.answer = "silent"
    started = time.monotonic()
    result = gateway_for(sendsms.url, timeout=0.3).send(msisdn="18612345678", text=WELCOME, message_id=41)
    assert 0.3 <= time.monotonic() - started < 2
    assert (result.ok, result.fate) == (False, UNKNOWN)
    assert "may have taken" in result.error
    assert len(sendsms.requests) == 1  # the request did reach the other side


def test_a_connection_dropped_after_the_request_is_unknown(sendsms):
    sendsms.answer = "drop"
    result = gateway_for(sendsms.url).send(msisdn="18612345678", text=WELCOME, message_id=41)
    assert (result.ok, result.fate) == (False, UNKNOWN)
    assert len(sendsms.requests) == 1


def test_nobody_listening_is_transient_at_once():
    started = time.monotonic()
    result = gateway_for(f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms").send(
        msisdn="18612345678", text=WELCOME, message_id=41
    )
    assert time.monotonic() - started < 1
    assert (result.ok, result.fate) == (False, TRANSIENT)
    assert "unreachable" in result.error


def test_one_connection_is_kept_for_many_messages(sendsms):
    gateway = gateway_for(sendsms.url)
    for message_id in (1, 2, 3):
        assert gateway.send(msisdn="18612345678", text=WELCOME, message_id=message_id).fate == SENT
    assert sendsms.connections == 1 and len(sendsms.requests) == 3


def test_a_connection_the_gateway_closed_while_idle_is_opened_again_before_the_next_message(sendsms):
    # Kannel closes a kept-alive connection that stays idle: a message written into it would be cut off
    # with nobody able to say whether it was taken.
    sendsms.hang_up_after_answer = True
    gateway = gateway_for(sendsms.url)
    assert gateway.send(msisdn="18612345678", text=WELCOME, message_id=1).fate == SENT
    deadline = time.monotonic() + 5
    while sendsms.hung_up < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    sendsms.hang_up_after_answer = False
    result = gateway.send(msisdn="18612345678", text=WELCOME, message_id=2)
    assert (result.fate, result.error) == (SENT, "")
    assert sendsms.connections == 2 and len(sendsms.requests) == 2


def test_messages_sent_from_several_threads_share_the_connection_one_at_a_time(sendsms):
    gateway = gateway_for(sendsms.url)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda n: gateway.send(msisdn="18612345678", text=f"{WELCOME}{n}", message_id=n), range(40)
            )
        )
    assert all(result.fate == SENT for result in results)
    carried = [
        dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r["dlr-url"]).query)) for r in sendsms.requests
    ]
    assert sorted(int(dlr["id"]) for dlr in carried) == list(range(40))
    assert sorted(r["text"] for r in sendsms.requests) == sorted(f"{WELCOME}{n}" for n in range(40))
    assert sendsms.connections == 1


def test_a_text_longer_than_kannel_may_split_is_refused_for_good_without_asking_it(sendsms):
    result = gateway_for(sendsms.url).send(
        msisdn="18612345678", text="欢" * (67 * MAX_PARTS + 1), message_id=41
    )
    assert (result.ok, result.fate) == (False, PERMANENT)
    assert sendsms.requests == []


def test_the_coding_and_the_parts_kannel_splits_into():
    assert sms_coding("Hello @£€ [ok]") == 0 and sms_coding("欢迎") == 2 and sms_coding("back`tick") == 2
    assert [sms_parts("欢" * n) for n in (1, 70, 71, 134, 135)] == [1, 1, 2, 2, 3]
    assert [sms_parts("a" * n) for n in (160, 161, 306, 307)] == [1, 2, 2, 3]
    assert sms_parts("[" * 80) == 1 and sms_parts("[" * 81) == 2  # an extension character takes two septets


@pytest.mark.parametrize(
    ("code", "meaning"),
    [(1, "delivered"), (2, "failed"), (4, "queued"), (8, "accepted"), (16, "rejected"), (1 | 8, "delivered")],
)
def test_kannel_delivery_report_types_in_the_outboxs_words(code, meaning):
    assert kannel_status_meaning(code) == meaning


@pytest.mark.parametrize("code", [0, 32, -1])
def test_a_delivery_report_type_kannel_does_not_have_is_refused(code):
    with pytest.raises(ValueError, match="not a Kannel delivery report type"):
        kannel_status_meaning(code)


def test_a_send_result_says_its_fate_and_older_gateways_keep_theirs():
    assert SendResult(ok=True, ref="mem:1").fate == SENT
    assert SendResult(ok=False, error="gateway refused").fate == TRANSIENT
    assert SendResult(ok=True, fate=QUEUED).fate == QUEUED
    with pytest.raises(ValueError):
        SendResult(ok=True, fate=UNKNOWN)
    with pytest.raises(ValueError):
        SendResult(ok=False, fate="lost")
    assert gateways.FATES == (SENT, QUEUED, TRANSIENT, PERMANENT, UNKNOWN)


def test_the_kannel_gateway_from_settings(settings):
    kannel = {**settings.ONBOARD90["KANNEL"], "SENDSMS_URL": "http://kannel.test:13013/cgi-bin/sendsms"}
    settings.ONBOARD90 = {
        **settings.ONBOARD90,
        "SMS_GATEWAY": "kannel",
        "KANNEL": {**kannel, "PASSWORD": "s3cret"},
    }
    gateway = gateway_from_settings()
    assert isinstance(gateway, KannelGateway) and isinstance(gateway, gateways.SmsGateway)
    assert (gateway.name, gateway.batch, gateway.reports_delivery) == ("kannel", 50, True)
    assert (gateway.sender, gateway.timeout) == (kannel["SENDER"], kannel["TIMEOUT_SECONDS"])
    settings.ONBOARD90 = {**settings.ONBOARD90, "KANNEL": {**kannel, "PASSWORD": ""}}
    with pytest.raises(ImproperlyConfigured, match="password"):
        gateway_from_settings()


# -- the real Kannel -----------------------------------------------------------------------------------------

_ids = itertools.count(9000)


def next_id() -> int:
    return next(_ids)


@pytest.fixture
def kannel(running_kannel):
    """The module's Kannel, all of it running whatever the previous test stopped."""
    return running_kannel.start()


@pytest.fixture
def gateway(kannel, callbacks):
    gateway = KannelGateway(
        sendsms_url=kannel.sendsms_url,
        username=kannel.username,
        password=kannel.password,
        sender="10086",
        callback_base=callbacks.url,
        callback_secret=SECRET,
        timeout=5,
    )
    yield gateway
    gateway.close()


def reports_for(callbacks, message_id: int, *, count: int = 1, where=lambda call: True):
    return callbacks.wait_for(
        DLR_PATH, count=count, where=lambda call: call.query["id"] == str(message_id) and where(call)
    )


@pytest.mark.kannel
def test_a_chinese_message_reaches_the_handset_as_ucs2_and_its_delivery_report_carries_our_id(
    kannel, gateway, callbacks
):
    message_id = next_id()
    result = gateway.send(msisdn="13800138101", text=WELCOME, message_id=message_id)
    assert (result.ok, result.fate, result.ref) == (True, SENT, f"kannel:{message_id}")
    [got] = kannel.wait_received(to="13800138101")
    assert (got.kind, got.sender, got.text) == ("ucs-2", "10086", WELCOME)
    reports = reports_for(callbacks, message_id, count=2)
    assert {call.query["status"] for call in reports} == {"1", "8"}
    assert {kannel_status_meaning(int(call.query["status"])) for call in reports} == {"delivered", "accepted"}
    assert all(call.query["to"] == "13800138101" and call.query["secret"] == SECRET for call in reports)
    assert all(call.query["ts"].isdigit() for call in reports)


@pytest.mark.kannel
def test_a_100_character_chinese_message_goes_as_two_concatenated_ucs2_parts(kannel, gateway, callbacks):
    text = (WELCOME * 3)[:100]
    assert len(text) == 100 and sms_parts(text) == 2
    message_id = next_id()
    result = gateway.send(msisdn="13800138102", text=text, message_id=message_id)
    assert (result.ok, result.fate) == (True, SENT)
    parts = kannel.wait_received(2, to="13800138102")
    assert [part.kind for part in parts] == ["udh", "udh"]
    (ref, total, first), (ref2, total2, second) = sorted(part.concatenation for part in parts)
    assert (ref == ref2, total, total2, first, second) == (True, 2, 2, 1, 2)
    first_part = next(part for part in parts if part.concatenation[2] == 1)
    assert len(first_part.data) == 134  # 67 UCS-2 characters: a 7-bit part would hold 153
    assert reassemble(parts, "utf-16-be") == text
    [delivered] = reports_for(callbacks, message_id, where=lambda call: call.query["status"] == "1")
    assert delivered.query["to"] == "13800138102"


@pytest.mark.kannel
def test_gsm_text_goes_7bit_and_anything_outside_the_gsm_alphabet_as_ucs2(kannel, gateway):
    assert gateway.send(
        msisdn="13800138103", text="PIN 1234 [ok] {x} ~ | ^ € \\ @ £", message_id=next_id()
    ).ok
    assert gateway.send(msisdn="13800138104", text="back`tick", message_id=next_id()).ok
    [seven_bit] = kannel.wait_received(to="13800138103")
    [ucs2] = kannel.wait_received(to="13800138104")
    assert (seven_bit.kind, seven_bit.text) == ("text", "PIN 1234 [ok] {x} ~ | ^ € \\ @ £")
    assert (ucs2.kind, ucs2.text) == ("ucs-2", "back`tick")  # as 7-bit Kannel would have sent "back?tick"


@pytest.mark.kannel
def test_with_the_sms_centre_down_kannel_queues_and_delivers_once_it_is_back(kannel, gateway, callbacks):
    kannel.stop_smsc()
    message_id = next_id()
    result = gateway.send(msisdn="13800138105", text=WELCOME, message_id=message_id)
    assert (result.ok, result.fate, result.ref) == (True, QUEUED, f"kannel:{message_id}")
    assert not [m for m in kannel.received() if m.receiver == "13800138105"]
    kannel.start_smsc()
    [got] = kannel.wait_received(to="13800138105")
    assert (got.kind, got.text) == ("ucs-2", WELCOME)
    reports_for(callbacks, message_id, where=lambda call: call.query["status"] == "1")


@pytest.mark.kannel
def test_with_kannel_down_a_send_is_transient_at_once_and_the_next_one_after_it_is_back_goes(kannel, gateway):
    first = gateway.send(msisdn="13800138106", text=WELCOME, message_id=next_id())  # a kept-alive connection
    assert first.fate == SENT
    # fakesmsc has a message once Kannel wrote it to its socket: stopping before it has read it would lose it.
    kannel.wait_received(to="13800138106")
    kannel.stop()
    started = time.monotonic()
    result = gateway.send(msisdn="13800138106", text=WELCOME, message_id=next_id())
    assert time.monotonic() - started < 1
    assert (result.ok, result.fate) == (False, TRANSIENT)
    assert "unreachable" in result.error and "refused" in result.error.lower()
    kannel.start()
    again = gateway.send(msisdn="13800138106", text=WELCOME, message_id=next_id())
    assert (again.ok, again.fate) == (True, SENT)
    assert [m.text for m in kannel.wait_received(2, to="13800138106")] == [WELCOME, WELCOME]


@pytest.mark.kannel
def test_a_wrong_password_is_refused_for_good(kannel, callbacks):
    gateway = gateway_for(kannel.sendsms_url, password="not-the-password", callback_base=callbacks.url)
    result = gateway.send(msisdn="13800138107", text=WELCOME, message_id=next_id())
    gateway.close()
    assert (result.ok, result.fate) == (False, PERMANENT)
    assert result.error == "Kannel 403: Authorization failed for sendsms"


@pytest.mark.kannel
def test_a_handsets_reply_reaches_the_get_url_as_utf8_chinese(kannel, callbacks):
    kannel.inject_mo("13800138108", "退订营销短信")
    [reply] = callbacks.wait_for(MO_PATH, where=lambda call: call.query["from"] == "13800138108")
    assert reply.query["text"] == "退订营销短信"
    assert (reply.query["to"], reply.query["coding"], reply.query["charset"]) == ("10086", "0", "UTF-8")
    assert reply.query["secret"] == SECRET
    assert "%E9%80%80%E8%AE%A2" in reply.raw_query  # 退订 in UTF-8, not UTF-16 (mo-recode)
