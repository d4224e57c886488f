"""A real Kannel (`kannel_local.KannelPeer`) calling onboard90's own callback endpoints on pytest-django's live
server: delivery reports to DLR_PATH, handsets' replies to MO_PATH. Fixtures for the tests marked `kannel`
(a test module imports `*_fixture`; the tests name them `live_kannel`).

The live server answers from its own threads, and on SQLite they share the test's one in-memory connection
(pytest-django passes it to them): two threads in a transaction on one connection would mix their
transactions, which no deployment does (each worker has its own connection). So the callbacks' writes and the
test's own database work take turns under one lock (`Guard`): the test holds it while it dispatches and while
it looks, the endpoints' services run under it. Once a test is over the guard is closed, and a callback Kannel
makes after it (a late delivery report) is answered without touching the database being emptied.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from onboard90.messaging import delivery, replies
from onboard90.messaging.kannel import KannelGateway
from onboard90.messaging.kannel_local import KannelPeer, kannel_missing
from onboard90.messaging.models import InboundMessage

# Characters Kannel's escapes and URL encoding must both carry through.
SECRET = "cb/s3cr%t é"


class Guard:
    """One lock for the database between the test and the live server's threads, and whether the test is on."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.open = True

    def __enter__(self) -> Guard:
        self._lock.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self._lock.release()

    def wrap(self, service: Callable, *, after_the_test: Callable[[], object]) -> Callable:
        def guarded(**kwargs):
            with self:
                return service(**kwargs) if self.open else after_the_test()

        return guarded

    def close(self) -> None:
        with self:
            self.open = False


@dataclass
class LiveKannel:
    peer: KannelPeer
    guard: Guard
    callback_base: str
    _gateways: list[KannelGateway] = field(default_factory=list)

    def gateway(self) -> KannelGateway:
        """A Kannel gateway on the peer whose delivery reports reach the live server."""
        gateway = KannelGateway(
            sendsms_url=self.peer.sendsms_url, username=self.peer.username, password=self.peer.password,
            sender=self.peer.sender, callback_base=self.callback_base, callback_secret=SECRET, timeout=5,
        )
        self._gateways.append(gateway)
        return gateway

    def close(self) -> None:
        self.guard.close()
        for gateway in self._gateways:
            gateway.close()


@pytest.fixture(scope="module", name="kannel_for_live_server")
def kannel_for_live_server_fixture(django_db_setup, live_server, tmp_path_factory) -> Iterator[tuple[KannelPeer, str]]:
    """The module's Kannel, calling back the live server (set up after the test database, so that the
    server's threads get the test's connection)."""
    if kannel_missing():
        pytest.skip(kannel_missing())
    base = live_server.url.replace("localhost", "127.0.0.1")  # the address the endpoints allow by default
    with KannelPeer(tmp_path_factory.mktemp("kannel-live"), callback_base=base, callback_secret=SECRET) as peer:
        yield peer, base


@pytest.fixture(name="live_kannel")
def live_kannel_fixture(kannel_for_live_server, transactional_db, settings, monkeypatch) -> Iterator[LiveKannel]:
    """The running Kannel (restarted if a test stopped it), the endpoints' secret configured, their services
    guarded (see the module's docstring)."""
    peer, base = kannel_for_live_server
    peer.start()
    settings.ONBOARD90 = {**settings.ONBOARD90, "KANNEL": {**settings.ONBOARD90["KANNEL"], "CALLBACK_SECRET": SECRET}}
    guard = Guard()
    monkeypatch.setattr(delivery, "dlr_record", guard.wrap(delivery.dlr_record, after_the_test=lambda: "closed"))
    monkeypatch.setattr(
        replies, "reply_receive", guard.wrap(replies.reply_receive, after_the_test=lambda: InboundMessage())
    )
    live = LiveKannel(peer, guard, base)
    yield live
    live.close()


def wait_for(live: LiveKannel, condition: Callable[[], object], what: str, *, timeout: float = 15) -> None:
    """Poll `condition` (a database read, made under the guard) until it holds; TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        with live.guard:
            if condition():
                return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"waited {timeout:g}s for {what}")
        time.sleep(0.05)
