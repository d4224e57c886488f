"""Kannel's callbacks: delivery reports (DLR_PATH, the `dlr-url` each message carries) and handsets' replies
(MO_PATH, the smsbox's sms-service `get-url`). Both are GET requests, as Kannel makes them.

Only the configured gateway may call them: the request must come from an address in
settings.ONBOARD90["KANNEL"]["ALLOWED_ADDRESSES"] (addresses or networks; loopback when unset) and carry
CALLBACK_SECRET as `secret` (compared in constant time). Without a configured secret every call is refused:
an endpoint that writes opt-outs and survey scores must not be open to whoever can reach it. Behind a
reverse proxy the address is the proxy's (REMOTE_ADDR): list the proxy, and let the secret tell Kannel apart.
A refusal is a 403 with one line of text; a bad parameter a 400 that says which; never a 500 for either.

The smsbox configuration these views expect (`messaging/kannel_local.py` writes the same for the tests, the
demo and the bench; the dlr-url needs nothing, `kannel.KannelGateway` puts it on each message)::

    group = smsbox
    mo-recode = true        # replies arrive as UTF-8 whatever the handset sent (else UCS-2 as UTF-16BE)

    group = sms-service
    keyword = default
    catch-all = true
    get-url = "http://ONBOARD90/sms/kannel/mo?from=%p&to=%P&text=%a&smsc=%i&ts=%T&coding=%c&charset=%C&secret=SECRET"
    max-messages = 0        # never send the response back to the handset as a reply SMS…
    omit-empty = true       # …nor "<Empty reply from service provider>" for our empty answer
    # accept-x-kannel-headers stays false (the default): nothing in our response may steer Kannel.

(A literal % in SECRET is written %% there: Kannel reads %<letter> as an escape.) The reply's answer to the
customer, where there is one (an opt-out's confirmation), goes through the outbox like every other message,
under the sending policy — never as the body of this response, which is empty.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hmac
import ipaddress
import logging
import urllib.parse

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from onboard90.core import clock
from onboard90.core.masking import mask_msisdn
from onboard90.messaging import delivery, replies

log = logging.getLogger("onboard90.messaging")

# Who may call when settings.ONBOARD90["KANNEL"] names no ALLOWED_ADDRESSES: Kannel on the same machine.
DEFAULT_ALLOWED_ADDRESSES = ("127.0.0.1", "::1")
_TEXT = "text/plain; charset=utf-8"


class BadParameter(ValueError):
    """A callback parameter that is missing or does not parse: answered 400 with this reason."""


def _kannel_setting(key: str, default):
    return (settings.ONBOARD90.get("KANNEL") or {}).get(key, default)


def _address_allowed(address: str) -> bool:
    try:
        caller = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(caller, ipaddress.IPv6Address) and caller.ipv4_mapped is not None:
        caller = caller.ipv4_mapped
    for entry in _kannel_setting("ALLOWED_ADDRESSES", DEFAULT_ALLOWED_ADDRESSES):
        try:
            network = ipaddress.ip_network(str(entry).strip(), strict=False)
        except ValueError:
            log.error("KANNEL ALLOWED_ADDRESSES: %r is not an address or a network; it allows nobody", entry)
            continue
        if caller.version == network.version and caller in network:
            return True
    return False


def _refusal(request: HttpRequest) -> str | None:
    """Why this caller is not the configured gateway, or None when it is."""
    address = request.META.get("REMOTE_ADDR", "")
    if not _address_allowed(address):
        return f"address {address or '(none)'} is not in KANNEL ALLOWED_ADDRESSES"
    secret = _kannel_setting("CALLBACK_SECRET", "")
    if not secret:
        return "no KANNEL CALLBACK_SECRET is configured (ONBOARD90_KANNEL_CALLBACK_SECRET)"
    given = request.GET.get("secret", "")
    if not hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8")):
        return f"wrong or missing secret from {address}"
    return None


def _forbidden(request: HttpRequest, reason: str) -> HttpResponse:
    # The caller learns only that it is not the gateway; the log says why (to whoever runs the gateway).
    log.warning("kannel callback %s refused: %s", request.path, reason)
    return HttpResponse("forbidden: not the configured SMS gateway\n", status=403, content_type=_TEXT)


def _bad(request: HttpRequest, exc: BadParameter) -> HttpResponse:
    log.warning("kannel callback %s: bad request: %s", request.path, exc)
    return HttpResponse(f"bad request: {exc}\n", status=400, content_type=_TEXT)


def _integer(params, name: str, *, required: bool = True) -> int | None:
    value = params.get(name, "").strip()
    if not value:
        if required:
            raise BadParameter(f"{name} is missing")
        return None
    try:
        return int(value)
    except ValueError:
        raise BadParameter(f"{name} is not a whole number: {value[:40]!r}") from None


def _instant(params, name: str = "ts") -> dt.datetime:
    """Kannel's %T (seconds since the epoch); now when the gateway left it out."""
    seconds = _integer(params, name, required=False)
    if seconds is None:
        return clock.now()
    try:
        return dt.datetime.fromtimestamp(seconds, tz=clock.OPERATOR_TZ)
    except (OverflowError, OSError, ValueError):
        raise BadParameter(f"{name} is not a time: {seconds}") from None


@require_GET
def kannel_dlr(request: HttpRequest) -> HttpResponse:
    """A delivery report: id (our message id), status (Kannel's report type), ts, to, reply (the SMS centre's
    words). Answered 200 "ok: <outcome>" — also for an id the outbox does not have (logged): Kannel has
    nothing better to do with it than we have."""
    if (refusal := _refusal(request)) is not None:
        return _forbidden(request, refusal)
    params = request.GET
    try:
        message_id = _integer(params, "id")
        if not 0 < message_id < 2**63:  # a database id: anything else would fail the lookup, not find nothing
            raise BadParameter(f"id is not a message id: {message_id}")
        report_type = _integer(params, "status")
        try:
            delivery.delivery_of(report_type)
        except ValueError as exc:
            raise BadParameter(f"status: {exc}") from None
        reported_at = _instant(params)
    except BadParameter as exc:
        return _bad(request, exc)
    outcome = delivery.dlr_record(
        message_id=message_id, report_type=report_type, reported_at=reported_at, detail=params.get("reply", "")
    )
    return HttpResponse(f"ok: {outcome}\n", content_type=_TEXT)


@require_GET
def kannel_mo(request: HttpRequest) -> HttpResponse:
    """A handset's message: from, to, text, smsc, ts, coding, charset. Answered 200 with an empty body: Kannel
    would send a body back to the handset (see the module's docstring)."""
    if (refusal := _refusal(request)) is not None:
        return _forbidden(request, refusal)
    try:
        sender = replies.local_number(request.GET.get("from", ""))
        if not sender:
            raise BadParameter("from is missing")
        coding = _integer(request.GET, "coding", required=False)
        if coding is not None and coding not in (0, 1, 2):
            raise BadParameter(f"coding is not Kannel's 0, 1 or 2: {coding}")
        text = _text(request)
        received_at = _instant(request.GET)
    except BadParameter as exc:
        return _bad(request, exc)
    reply = replies.reply_receive(
        msisdn=sender, text=text, received_at=received_at, gateway="kannel", smsc=request.GET.get("smsc", "")
    )
    log.info("reply from %s taken as %s", mask_msisdn(sender), reply.kind)
    return HttpResponse(b"", content_type=_TEXT)


def _text(request: HttpRequest) -> str:
    """The reply's text, in the charset Kannel names (%C): UTF-8 with `mo-recode`, the handset's own (UTF-16BE
    for UCS-2) without it — read again from the raw query, which Django decoded as UTF-8."""
    if "text" not in request.GET:
        raise BadParameter("text is missing")
    charset = request.GET.get("charset", "").strip() or "UTF-8"
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        raise BadParameter(f"charset is unknown: {charset[:40]!r}") from None
    if name == "utf-8":
        return request.GET["text"]
    try:
        pairs = urllib.parse.parse_qsl(
            request.META.get("QUERY_STRING", ""), keep_blank_values=True, encoding=name, errors="strict"
        )
    except (UnicodeError, ValueError):
        raise BadParameter(f"text is not valid {charset}") from None
    return next(value for key, value in pairs if key == "text")
