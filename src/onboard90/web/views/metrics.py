"""`/metrics`: the Prometheus exposition of the web server's requests and of the work itself.

No sign-in (Prometheus does not sign in), so the address decides, or a token:

- a request that brings `Authorization: Bearer <ONBOARD90_METRICS_TOKEN>` (when that is set) is answered from
  anywhere, and one that brings another token is refused wherever it comes from;
- otherwise the client's address must be in ONBOARD90_METRICS_ALLOW (default: loopback) *and* the request must
  not have come through a proxy (no `X-Forwarded-*`, `Forwarded` or `X-Real-IP`): behind a TLS proxy on the
  same machine every visitor from the internet arrives from 127.0.0.1, and must not be taken for the
  machine's own Prometheus.

Anyone else is answered 404, as for anything outside a user's reach.

What it says: the request counts and latencies by view that django-prometheus's middleware keeps — summed
over every worker process of `onboard90 serve` through prometheus-client's multiprocess files
(PROMETHEUS_MULTIPROC_DIR, set by serve) — and the figures `reporting.metrics` reads at this moment.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.cache import never_cache
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder

from onboard90.reporting.metrics import OperationsCollector

# Headers a reverse proxy adds: with any of them, REMOTE_ADDR is the proxy's address, not the client's.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_FORWARDED",
                 "HTTP_X_REAL_IP")  # fmt: skip


def metrics_allowed(request: HttpRequest) -> bool:
    """Whether `request` may read `/metrics` (see the module's text)."""
    token = settings.ONBOARD90["METRICS_TOKEN"]
    scheme, _space, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer":
        return hmac.compare_digest(given.strip().encode(), token.encode())
    if any(header in request.META for header in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:  # ::ffff:127.0.0.1 on a dual-stack socket
        address = address.ipv4_mapped
    return any(address in network for network in settings.ONBOARD90["METRICS_ALLOW"])


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        raise Http404
    if request.method not in ("GET", "HEAD"):  # said only to those who may know the page is there
        return HttpResponseNotAllowed(["GET", "HEAD"])
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # every worker's request figures, from their files
    else:
        registry.register(REGISTRY)  # one process (the tests; a server without that folder): its own figures
    registry.register(OperationsCollector())
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(registry), content_type=content_type)
