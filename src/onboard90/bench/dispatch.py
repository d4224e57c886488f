"""`onboard90 bench dispatch`: how many SMS a second the outbox renders and hands over, through the file
gateway and through a real Kannel on loopback, beside Kannel's own ceiling measured in the same run.

    prepare_database(reset=True)         empty/rebuild the database (as `bench cycle`)
    build_state(journeys=N/4)            a province whose past SMS rows give the N messages (set-based)
    _queue(ids)                          N of them queued again, unrendered, due now (one UPDATE)
    _timed(gateway, ids)                 outbox_render, then outbox_dispatch: rate limit off, no daily cap
    _ceiling(peer, texts)                the same messages posted straight to sendsms by a plain loop

The Kannel part hands over M messages (`--kannel-messages`, default min(N, 2000)): Kannel 1.4 on loopback
answers a sendsms request asking for delivery reports in about 15 ms whoever asks, one request at a time
on a connection (see docs/PERFORMANCE.md), so M bounds the run's length, and the gateway and the plain loop
send the same M texts the same way (one kept-alive connection, one request at a time), which is what the
ratio compares. See docs/PERFORMANCE.md for the command and the figures.
"""

from __future__ import annotations

import datetime as dt
import http.client
import re
import secrets
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from onboard90.bench.services import (
    BenchRefused,
    Progress,
    _no_progress,
    build_state,
    database_label,
    prepare_database,
)
from onboard90.core import clock
from onboard90.messaging.enums import MessageStatus
from onboard90.messaging.gateways import FileGateway, SmsGateway
from onboard90.messaging.kannel import DLR_MASK, KannelGateway
from onboard90.messaging.kannel_local import CallbackReceiver, KannelPeer, kannel_missing
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.services import outbox_dispatch, outbox_render
from onboard90.playbook.selectors import current_version, playbook_of
from onboard90.playbook.templating import sms_coding

KANNEL_DEFAULT = 2000
TARGET_RATIO = 0.5  # the gateway at least half of what Kannel itself takes


def run(
    *, messages: int, kannel_messages: int | None = None, today: dt.date | None = None, seed: int = 2012,
    force: bool = False, progress: Progress = _no_progress,
) -> dict[str, Any]:
    if messages < 1:
        raise ValueError("--messages 必须为正数 / must be at least 1")
    if kannel_messages is not None and kannel_messages < 0:
        raise ValueError("--kannel-messages 不能为负 / cannot be negative")
    kannel_n = min(messages, KANNEL_DEFAULT if kannel_messages is None else kannel_messages)
    today = today or clock.today()
    prepare_database(reset=True, force=force)
    started = time.perf_counter()
    built = build_state(journeys=max(messages // 4, 200), daily=None, today=today, seed=seed, fast=True,
                        progress=progress)
    ids = list(OutboxMessage.objects.order_by("pk").values_list("pk", flat=True)[:messages])
    if len(ids) < messages:
        raise BenchRefused(f"the build left {len(ids)} messages, fewer than --messages {messages}")
    build_s = time.perf_counter() - started
    at = clock.at_local(today, 10)  # inside the sending hours
    result: dict[str, Any] = {
        "messages": messages, "database": connection.vendor, "database_location": database_label(),
        "build_s": round(build_s, 1), "built": built.counts, "date": today.isoformat(),
    }
    saved = settings.ONBOARD90
    settings.ONBOARD90 = {**saved, "SMS_RATE_LIMIT": 0}  # the rate limit off: the gateway's own pace
    try:
        with clock.simulated(at), tempfile.TemporaryDirectory(prefix="onboard90-bench-sms-") as tmp:
            progress("file gateway", 0, 1)
            result["file"] = _timed(FileGateway(Path(tmp) / "sent.jsonl"), ids, at=at)
            progress("file gateway", 1, 1)
            result["kannel"] = _kannel(ids[:kannel_n], at=at, workdir=Path(settings.VAR_DIR) / "bench" / "kannel",
                                       progress=progress)
    finally:
        settings.ONBOARD90 = saved
    return result


def _queue(ids: list[int], *, at: dt.datetime) -> None:
    """The messages queued again as the cycle leaves them: unrendered, due now, their window open all day."""
    with transaction.atomic():
        for start in range(0, len(ids), 50_000):
            OutboxMessage.objects.filter(pk__in=ids[start : start + 50_000]).update(
                status=MessageStatus.QUEUED, text="", segments=0, sent_at=None, gateway="", gateway_ref="",
                attempts=0, last_error="", scheduled_at=at, not_after=at + dt.timedelta(hours=10),
                delivery="", delivery_at=None, delivery_detail="",
            )


def _timed(gateway: SmsGateway, ids: list[int], *, at: dt.datetime) -> dict[str, Any]:
    """Render and send `ids` through `gateway` as the outbox-dispatch job does (its render included)."""
    _queue(ids, at=at)
    hours = playbook_of(current_version()).quiet_hours
    started = time.perf_counter()
    rendered = outbox_render()
    render_s = time.perf_counter() - started
    counts = outbox_dispatch(as_of=at, quiet_hours=(hours.start, hours.end), gateway=gateway, now=lambda: at)
    total_s = time.perf_counter() - started
    sent = OutboxMessage.objects.filter(pk__in=ids, status=MessageStatus.SENT).count()
    if sent != len(ids):
        raise RuntimeError(f"{gateway.name}: {sent} of {len(ids)} messages sent ({counts})")
    return {
        "messages": len(ids), "rendered": rendered, "render_s": round(render_s, 3),
        "send_s": round(total_s - render_s, 3), "total_s": round(total_s, 3),
        "per_s": round(len(ids) / total_s), "send_per_s": round(len(ids) / (total_s - render_s)),
    }


def _kannel(ids: list[int], *, at: dt.datetime, workdir: Path, progress: Progress) -> dict[str, Any]:
    if not ids:
        return {"skipped": "--kannel-messages 0"}
    if missing := kannel_missing():
        return {"skipped": missing}
    secret = secrets.token_urlsafe(12)
    progress("kannel", 0, 2)
    with (
        CallbackReceiver() as receiver,
        KannelPeer(workdir, callback_base=receiver.url, callback_secret=secret) as peer,
    ):
        gateway = KannelGateway(
            sendsms_url=peer.sendsms_url, username=peer.username, password=peer.password, sender=peer.sender,
            callback_base=receiver.url, callback_secret=secret, timeout=10,
        )
        try:
            through_gateway = _timed(gateway, ids, at=at)
        finally:
            gateway.close()
        progress("kannel", 1, 2)
        texts = list(OutboxMessage.objects.filter(pk__in=ids).order_by("pk").values_list("pk", "msisdn", "text"))
        ceiling = _ceiling(peer.sendsms_url, gateway, texts)
        progress("kannel", 2, 2)
        handed = _sms_status_when_handed_over(peer, 2 * len(ids))  # each message twice: the gateway, then the loop
    ratio = through_gateway["per_s"] / ceiling["per_s"] if ceiling["per_s"] else None
    return {
        **through_gateway,
        "ceiling": ceiling,
        "ratio": round(ratio, 2) if ratio is not None else None,
        "target": {"ratio": TARGET_RATIO, "met": ratio is not None and ratio >= TARGET_RATIO},
        "kannel_status": handed,
    }


def _sms_status_when_handed_over(peer: KannelPeer, expected: int, *, wait_s: float = 15.0) -> str:
    """bearerbox's SMS status line ("SMS: received …, sent N …") once it reports `expected` messages sent to the
    SMS centre (or after `wait_s`; "" when it does not answer): it accepts a message (HTTP 202) a moment before
    it hands it on, so a status read at once may miss the last."""
    deadline = time.monotonic() + wait_s
    while True:
        line = next((ln for ln in peer.status().splitlines() if ln.startswith("SMS: received")), "")
        sent = re.search(r", sent (\d+)", line)
        if (sent and int(sent.group(1)) >= expected) or time.monotonic() >= deadline:
            return line
        time.sleep(0.2)


def _ceiling(sendsms_url: str, gateway: KannelGateway, texts: list[tuple[int, str, str]]) -> dict[str, Any]:
    """Kannel's own pace: the same messages, the same request (text, coding, dlr-mask and dlr-url) on one
    kept-alive connection, one at a time as the gateway sends them, by a loop that does nothing else."""
    url = urllib.parse.urlsplit(sendsms_url)
    requests = [
        f"{url.path}?"
        + urllib.parse.urlencode(
            {
                "username": gateway.username, "password": gateway.password, "to": msisdn, "text": text,
                "coding": sms_coding(text), "charset": "UTF-8", "dlr-mask": DLR_MASK,
                "dlr-url": gateway.dlr_url(pk), "from": gateway.sender,
            },
            quote_via=urllib.parse.quote,
        )
        for pk, msisdn, text in texts
    ]
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    refused = 0
    started = time.perf_counter()
    for target in requests:
        conn.request("GET", target)
        response = conn.getresponse()
        response.read()
        refused += not 200 <= response.status < 300
    seconds = time.perf_counter() - started
    conn.close()
    return {"messages": len(requests), "seconds": round(seconds, 3), "per_s": round(len(requests) / seconds),
            "refused": refused}
