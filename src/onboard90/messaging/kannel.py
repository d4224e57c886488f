"""The Kannel gateway: hands each message to Kannel's smsbox through its HTTP `sendsms` interface.

Kannel answers a sendsms request as soon as its bearerbox has the message, not when the handset has it:
`202 0: Accepted for delivery` when an SMS centre link took it, `202 3: Queued for later delivery` when no
link is up and Kannel keeps it to deliver later. Either way the message is Kannel's to deliver, and what
became of it arrives later as delivery reports on the `dlr-url` each message carries (our message id in
it, so the report finds its message; `kannel_status_meaning` reads their status).

A refused or failed hand-over is not one thing, and the dispatcher must not treat it as one (see the fates
in `gateways`): a connection refused or a 5xx means Kannel certainly did not take the message, so it may be
sent again; a 4xx (wrong password, a malformed request) will be refused again, so it must not; and a request
that left but got no answer (a timeout, a connection dropped after the request was written) may well have
been taken, so sending it again blindly could reach the customer twice.

Chinese text goes as UCS-2 (`coding=2`, 70 characters a part, 67 when concatenated); text that fits the GSM
7-bit alphabet goes as `coding=0` (160 a part, 153 when concatenated). Kannel splits a long text itself, but
only up to the `max-messages` of the sendsms-user (Kannel 1.4 takes no `max-messages` on the request) and
cuts the rest off silently: the user must be configured with `concatenation = true` and `max-messages` of at
least MAX_PARTS, and a text needing more than MAX_PARTS parts is refused here before it leaves. Replies from
handsets (MO) reach MO_PATH through the smsbox's sms-service get-url, recoded to UTF-8 (`mo-recode = true`).

One connection per gateway, kept alive between messages (a dispatch round sends hundreds), opened again when
Kannel has closed it, and used by one send at a time.
"""

from __future__ import annotations

import http.client
import select
import threading
import urllib.parse

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from onboard90.messaging.gateways import (
    PERMANENT,
    QUEUED,
    SENT,
    TRANSIENT,
    UNKNOWN,
    SendResult,
)
from onboard90.playbook.templating import segments as sms_parts
from onboard90.playbook.templating import sms_coding

# Where Kannel calls onboard90 back: delivery reports (dlr-url) and handset replies (the sms-service get-url).
DLR_PATH = "/sms/kannel/dlr"
MO_PATH = "/sms/kannel/mo"

# Kannel's dlr-mask: every report it can give (1 delivered, 2 failed, 4 queued at the SMSC, 8 SMSC accepted,
# 16 SMSC rejected).
DLR_MASK = 31

# The most parts one text may need; the sendsms-user's max-messages must be at least this.
MAX_PARTS = 10

# Kannel's answer code, at the start of a 2xx body, for a message it keeps to deliver later.
_QUEUED = "3"

def kannel_status_meaning(code: int) -> str:
    """The outbox word for a Kannel delivery report's type (the `%d` of a dlr-url).

    Kannel's DLR types are bits of the dlr-mask:

    - 1 → "delivered": the handset has it (final);
    - 2 → "failed": the SMSC could not deliver it (final);
    - 4 → "queued": the SMSC keeps it for a later attempt;
    - 8 → "accepted": the SMSC acknowledged the message (Kannel's `ACK/`), not yet delivered;
    - 16 → "rejected": the SMSC refused it (final).

    Kannel reports one type at a time; were bits combined, a final outcome (delivered, failed, rejected)
    wins over an intermediate one. A code with none of these bits raises ValueError.
    """
    if 0 < code < 32:
        for bit, meaning in (
            (1, "delivered"),
            (2, "failed"),
            (16, "rejected"),
            (8, "accepted"),
            (4, "queued"),
        ):
            if code & bit:
                return meaning
    raise ValueError(f"not a Kannel delivery report type: {code!r}")


class KannelGateway:
    """Posts each message to Kannel's `sendsms` (a GET with URL-encoded parameters, as Kannel documents).

    Built from settings.ONBOARD90['KANNEL'] unless given its values; `timeout` (seconds) bounds the connect
    and the wait for Kannel's answer.
    """

    name = "kannel"
    # Kannel cannot say which messages it took (no `accepted`), so a crash leaves a whole round unconfirmed
    # until delivery reports settle it: a smaller round keeps that few.
    batch = 50
    reports_delivery = True

    def __init__(
        self,
        *,
        sendsms_url: str | None = None,
        username: str | None = None,
        password: str | None = None,
        sender: str | None = None,
        callback_base: str | None = None,
        callback_secret: str | None = None,
        timeout: float | None = None,
    ):
        def setting(value, key):
            return value if value is not None else settings.ONBOARD90["KANNEL"][key]

        url = urllib.parse.urlsplit(setting(sendsms_url, "SENDSMS_URL"))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ImproperlyConfigured(
                f"Kannel's sendsms URL must be http(s)://host[:port]/path: {url.geturl()!r}"
            )
        self.username = setting(username, "USERNAME")
        self.password = setting(password, "PASSWORD")
        if not self.password:
            # Kannel knows no sendsms-user without one: every message would be refused for good.
            raise ImproperlyConfigured(
                "the Kannel gateway needs its sendsms-user's password (ONBOARD90_KANNEL_PASSWORD)"
            )
        self.sender = setting(sender, "SENDER")
        self.callback_base = setting(callback_base, "CALLBACK_BASE").rstrip("/")
        self.callback_secret = setting(callback_secret, "CALLBACK_SECRET")
        self.timeout = float(setting(timeout, "TIMEOUT_SECONDS"))
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port or (443 if self._https else 80)
        self._path = url.path or "/cgi-bin/sendsms"
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None

    def dlr_url(self, message_id: int) -> str:
        """The delivery-report URL Kannel calls for this message, with Kannel's escapes in it: %d the report
        type, %T its time (epoch seconds), %p the handset, %A the SMSC's reply. A literal % is doubled,
        since Kannel reads %<letter> as an escape wherever it finds one."""
        secret = urllib.parse.quote(self.callback_secret, safe="")
        base = f"{self.callback_base}{DLR_PATH}?id={int(message_id)}".replace("%", "%%")
        return f"{base}&status=%d&ts=%T&to=%p&reply=%A&secret={secret.replace('%', '%%')}"

    def send(self, *, msisdn: str, text: str, message_id: int) -> SendResult:
        parts = sms_parts(text)
        if parts > MAX_PARTS:
            return SendResult(
                ok=False,
                fate=PERMANENT,
                error=f"text needs {parts} SMS parts, more than the {MAX_PARTS} allowed",
            )
        params = {
            "username": self.username,
            "password": self.password,
            "to": msisdn,
            "text": text,
            "coding": sms_coding(text),
            "charset": "UTF-8",
            "dlr-mask": DLR_MASK,
            "dlr-url": self.dlr_url(message_id),
        }
        if self.sender:
            params["from"] = self.sender
        target = f"{self._path}?{urllib.parse.urlencode(params, quote_via=urllib.parse.quote)}"
        with self._lock:
            return self._exchange(target, message_id)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _exchange(self, target: str, message_id: int) -> SendResult:
        connection = self._connection
        if connection is not None and _closed_by_peer(connection):
            self._drop()
            connection = None
        if connection is None:
            connection = self._open()
            try:
                connection.connect()
            except OSError as exc:  # refused, unreachable, timed out: nothing was sent
                self._drop()
                return SendResult(
                    ok=False, fate=TRANSIENT, error=f"Kannel unreachable at {self._where()}: {exc}"
                )
        try:
            connection.request("GET", target, headers={"Accept": "text/plain"})
        except (OSError, http.client.HTTPException) as exc:
            # The request could not be written whole, and Kannel reads nothing before its end.
            self._drop()
            return SendResult(ok=False, fate=TRANSIENT, error=f"request to Kannel not sent: {exc}")
        try:
            response = connection.getresponse()
            body = response.read().decode("utf-8", "replace").strip()
        except TimeoutError:
            self._drop()
            return SendResult(
                ok=False,
                fate=UNKNOWN,
                error=f"no answer from Kannel within {self.timeout:g}s: it may have taken the message",
            )
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            return SendResult(
                ok=False,
                fate=UNKNOWN,
                error=f"Kannel hung up before answering ({exc!r}): it may have taken the message",
            )
        if response.will_close:
            self._drop()
        return _result(response.status, body, message_id)

    def _open(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        self._connection = cls(self._host, self._port, timeout=self.timeout)
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _where(self) -> str:
        return f"{self._host}:{self._port}"


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """Whether a kept-alive connection can no longer carry a request: Kannel closed it while it was idle
    (it is readable with nothing owed to us), or it was never opened."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _result(status: int, body: str, message_id: int) -> SendResult:
    """Kannel's answer, classified (see the module docstring)."""
    answer = f"Kannel {status}: {body}"[:255]
    if 200 <= status < 300:
        fate = QUEUED if body.split(":", 1)[0].strip() == _QUEUED else SENT
        return SendResult(ok=True, ref=f"kannel:{message_id}", fate=fate)
    if status >= 500 or status in (408, 429):
        # Kannel's own 503 "Temporal failure, try again later." and 500 "Sending failed." are said before the
        # message reaches its queue; 408 and 429 are a proxy's "not now".
        return SendResult(ok=False, fate=TRANSIENT, error=answer)
    return SendResult(ok=False, fate=PERMANENT, error=answer)
