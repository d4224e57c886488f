"""`onboard90 bench api --events N`: event intake through `/api/v1/events` beside the importer's rate.

    write the events        N events as the BSS sends them: activations across every city and store, and
                            for some of those customers a VIP rating, a bill and an opt-out (in that order)
    time the importer       `onboard90 import events` of them as one JSONL file (`events_import`)
    time batched intake     the same events POSTed in batches of 1000, into an equally prepared database
    time single intake      the first `single` of them POSTed one per request, into another

Each phase starts from a rebuilt database (`prepare_database`): the same reference data, no customer. The
requests go through the whole API in this process — Django's test client (`rest_framework.test.APIClient`):
URL routing, the key's authentication (its SHA-256 and lookup), the throttle, JSON parsing, the idempotency
records, the scope check, the importer's services, the answer rendered — everything but the sockets and the
WSGI server. The key's rate is lifted for the run. The judge is batched ÷ importer (target >= 0.5).
See docs/PERFORMANCE.md.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from onboard90.api.services import apikey_create
from onboard90.bench.services import database_label, peak_rss_mb, prepare_database
from onboard90.catalog.models import Package, VipTier
from onboard90.core import clock
from onboard90.customers.models import Customer, CustomerEvent
from onboard90.customers.services import events_import
from onboard90.org.enums import UnitKind
from onboard90.org.models import Unit

TARGET_RATIO = 0.5
BATCH = 1000


def make_events(*, count: int, today: dt.date, seed: int) -> list[dict[str, Any]]:
    """`count` events: about 60 % activations, then for those customers VIP ratings, bills and opt-outs."""
    rng = np.random.default_rng(seed)
    stores = list(Unit.objects.filter(kind=UnitKind.STORE).values_list("code", "city__code"))
    packages = list(Package.objects.filter(product="postpaid", active=True).values_list("code", flat=True))
    tiers = list(VipTier.objects.filter(enabled=True).values_list("code", flat=True))
    activations = max(1, round(count * 0.6))
    store_pick = rng.integers(0, len(stores), activations).tolist()
    package_pick = rng.integers(0, len(packages), activations).tolist()
    day_pick = rng.integers(2, 60, activations).tolist()
    events: list[dict[str, Any]] = []
    for i in range(activations):
        store, city = stores[store_pick[i]]
        at = clock.at_local(today - dt.timedelta(days=day_pick[i]), 10)
        events.append(
            {
                "type": "activation",
                "msisdn": f"186{i + 1:08d}",
                "at": at.strftime("%Y-%m-%d %H:%M"),
                "idempotency_key": f"bench-act-{i}",
                "city": city,
                "store_code": store,
                "product": "postpaid",
                "package_code": packages[package_pick[i]],
            }
        )
    kinds = ("vip_rated", "bill_issued", "opt_out")
    for j in range(count - activations):
        i, kind = j % activations, kinds[(j // activations) % len(kinds)]
        first = events[i]
        at = (dt.datetime.strptime(first["at"], "%Y-%m-%d %H:%M") + dt.timedelta(days=1)).strftime(
            "%Y-%m-%d %H:%M"
        )
        event = {"type": kind, "msisdn": first["msisdn"], "at": at, "idempotency_key": f"bench-{kind}-{j}"}
        if kind == "vip_rated":
            event["vip_level"] = tiers[j % len(tiers)]
        elif kind == "bill_issued":
            event["bill_month"], event["amount"] = at[:7], "96.00"
        events.append(event)
    return events


def _fresh(force: bool) -> None:
    prepare_database(reset=True, force=force)
    cache.clear()  # the throttle's counts


def _client():
    new = apikey_create(name="bench", scope="province")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {new.token}")
    return client


def _post_all(client, bodies: list[Any]) -> tuple[float, dict[str, int]]:
    counts: dict[str, int] = {}
    started = time.perf_counter()
    for body in bodies:
        answer = client.post("/api/v1/events", body, format="json")
        if answer.status_code >= 400 and answer.status_code != 422:
            raise RuntimeError(f"the API answered {answer.status_code}: {answer.content[:300]!r}")
        document = answer.json()
        for result in document.get("results", [document]):
            counts[result["status"]] = counts.get(result["status"], 0) + 1
    return time.perf_counter() - started, counts


def run(*, events: int, single: int = 1000, seed: int = 2012, force: bool = False) -> dict[str, Any]:
    """Importer, batched, single — each on a rebuilt database. Returns the figures."""
    if events < 1:
        raise ValueError("--events 必须为正数 / must be at least 1")
    today = clock.today()
    single = max(1, min(single, events))
    rate = settings.ONBOARD90["API_RATE"]
    settings.ONBOARD90["API_RATE"] = "100000000/min"
    try:
        _fresh(force)
        stream = make_events(count=events, today=today, seed=seed)
        with tempfile.TemporaryDirectory(prefix="onboard90-bench-api-") as tmp:
            path = Path(tmp) / "events.jsonl"
            path.write_text(
                "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in stream), encoding="utf-8"
            )
            started = time.perf_counter()
            imported = events_import(path=path)
            import_s = time.perf_counter() - started
        if imported.rejected:
            raise RuntimeError(f"the bench's own events did not import cleanly: {imported.as_dict()}")
        through_file = (Customer.objects.count(), CustomerEvent.objects.count())

        _fresh(True)
        batches = [{"events": stream[i : i + BATCH]} for i in range(0, len(stream), BATCH)]
        batched_s, batched_counts = _post_all(_client(), batches)
        through_api = (Customer.objects.count(), CustomerEvent.objects.count())
        if batched_counts.get("rejected") or through_api != through_file:
            raise RuntimeError(f"batched intake differs from the import: {batched_counts}, {through_api}")

        _fresh(True)
        single_s, single_counts = _post_all(_client(), stream[:single])
        if single_counts.get("rejected"):
            raise RuntimeError(f"single intake rejected events: {single_counts}")
    finally:
        settings.ONBOARD90["API_RATE"] = rate
    import_rate = round(events / import_s)
    batched_rate = round(events / batched_s)
    ratio = round(batched_rate / import_rate, 3)
    return {
        "events": events,
        "database": connection.vendor,
        "database_location": database_label(),
        "client": "django test client, in process (no sockets, no WSGI server)",
        "import_s": round(import_s, 3),
        "import_events_per_s": import_rate,
        "batched_s": round(batched_s, 3),
        "batched_events_per_s": batched_rate,
        "batch_size": BATCH,
        "single_events": single,
        "single_s": round(single_s, 3),
        "single_events_per_s": round(single / single_s),
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "met": ratio >= TARGET_RATIO,
        "peak_rss_mb": peak_rss_mb(),
        "date": today.isoformat(),
    }
