"""A real Kannel on loopback — the peer of the Kannel gateway's tests, the demo's `--gateway kannel` and `bench
dispatch` — and a receiver for its callbacks. Not for production: there Kannel is the operator's, configured
as `views` describes.

`KannelPeer` runs Debian's Kannel 1.4 as an operator would deploy it in front of onboard90 — bearerbox,
smsbox with a sendsms-user, an sms-service whose get-url reaches MO_PATH — with Kannel's fake SMS centre
(`fakesmsc`) as the handsets' side: what it prints is what a handset got, and a line written to its stdin
(a named pipe) is a handset's reply. Ports are chosen free on 127.0.0.1 when the peer is made. The SMS
centre link and the whole gateway can be stopped and started again, to see what the gateway says during
an outage, or frozen and killed mid-request (`freeze`, `thaw`, `kill`). Every process is started by this
module, stopped by its PID, and killed with the process that started it should that die first, so nothing is
left running after a failed test or an interrupted demo.

`CallbackReceiver` stands where onboard90's callback endpoints will: it records every request Kannel makes
(delivery reports, handset replies) and lets a test wait for one.
"""

from __future__ import annotations

import atexit
import contextlib
import http.server
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from onboard90.messaging.kannel import MAX_PARTS, MO_PATH

BEARERBOX = Path("/usr/sbin/bearerbox")
SMSBOX = Path("/usr/sbin/smsbox")
FAKESMSC = Path("/usr/lib/kannel/test/fakesmsc")

SMSC_ID = "FAKE"
# fakesmsc reads a reply with fgets into a 256-byte buffer: a longer line would arrive as several messages.
FAKESMSC_LINE_MAX = 255

# Straight to loopback, whatever http_proxy the environment has.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def kannel_missing() -> str | None:
    """Why a real Kannel cannot run here, or None."""
    absent = [
        str(path)
        for path in (BEARERBOX, SMSBOX, FAKESMSC)
        if not (path.is_file() and os.access(path, os.X_OK))
    ]
    if absent:
        return f"needs Kannel 1.4 ({', '.join(absent)} missing: apt-get install kannel kannel-extras)"
    if not hasattr(os, "mkfifo"):
        return "needs named pipes (fakesmsc reads handset replies from one)"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at `host` now ("" for every interface)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], object], *, timeout: float, what: str, interval: float = 0.05):
    """Poll `condition` until it returns something true, and return that; TimeoutError once `timeout`
    seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"waited {timeout:g}s for {what}")
        time.sleep(interval)


@dataclass(frozen=True)
class HandsetMessage:
    """One SMS (or one part of a concatenated one) as fakesmsc printed it on arrival.

    `kind` is fakesmsc's: "text" (7-bit, printed as text), "ucs-2", "data" (8-bit) or "udh" (a part with a
    user data header; fakesmsc does not say its coding). `data` is the message body as sent over the air for
    ucs-2, data and udh (UTF-16BE for UCS-2), UTF-8 for text; `text` is the decoded text for text and ucs-2.
    """

    line: str
    sender: str
    receiver: str
    kind: str
    data: bytes
    udh: bytes = b""
    text: str | None = None

    @property
    def concatenation(self) -> tuple[int, int, int] | None:
        """(reference, parts, this part's number) from a concatenation header, or None."""
        udh, at = self.udh[1:], 0
        while at + 2 <= len(udh):
            element, size = udh[at], udh[at + 1]
            value = udh[at + 2 : at + 2 + size]
            if element == 0x00 and size == 3:
                return value[0], value[1], value[2]
            if element == 0x08 and size == 4:
                return value[0] << 8 | value[1], value[2], value[3]
            at += 2 + size
        return None


def _unquote(text: str) -> bytes:
    """Kannel's URL encoding (space as '+') back to bytes."""
    return urllib.parse.unquote_to_bytes(text.replace("+", " "))


def parse_fakesmsc_line(line: str) -> HandsetMessage:
    """A message line fakesmsc printed: "sender receiver kind body" (see `HandsetMessage`)."""
    sender, receiver, kind, rest = (line.split(" ", 3) + [""])[:4]
    if kind == "text":
        return HandsetMessage(line, sender, receiver, kind, rest.encode("utf-8"), text=rest)
    if kind == "ucs-2":
        data = _unquote(rest)
        return HandsetMessage(line, sender, receiver, kind, data, text=data.decode("utf-16-be", "replace"))
    if kind == "udh":
        udh, _, data = rest.partition(" data ")
        return HandsetMessage(line, sender, receiver, kind, _unquote(data), udh=_unquote(udh))
    return HandsetMessage(line, sender, receiver, kind, _unquote(rest))


def reassemble(parts: list[HandsetMessage], encoding: str = "utf-16-be") -> str:
    """The text of a concatenated message from all its parts, in part order, decoded with `encoding`."""
    numbered = sorted(parts, key=lambda part: part.concatenation[2] if part.concatenation else 0)
    return b"".join(part.data for part in numbered).decode(encoding)


@dataclass(frozen=True)
class Callback:
    """One request Kannel made to the receiver: its path and its query, decoded as UTF-8."""

    path: str
    query: dict[str, str]
    raw_query: str


class CallbackReceiver:
    """A threaded HTTP server on a free loopback port that answers 200 to every GET and remembers it."""

    def __init__(self) -> None:
        self.calls: list[Callback] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path, _, raw_query = self.path.partition("?")
                query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True, encoding="utf-8"))
                with receiver._changed:
                    receiver.calls.append(Callback(path, query, raw_query))
                    receiver._changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's name)
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="kannel-callbacks", daemon=True
        )
        self._thread.start()

    def wait_for(
        self,
        path: str,
        *,
        count: int = 1,
        timeout: float = 10,
        where: Callable[[Callback], bool] = lambda c: True,
    ) -> list[Callback]:
        """The calls to `path` that satisfy `where`, once there are at least `count` of them."""

        def matching() -> list[Callback]:
            return [call for call in self.calls if call.path == path and where(call)]

        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := matching()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"waited {timeout:g}s for {count} call(s) to {path}; got {self.calls!r}"
                    )
                self._changed.wait(left)
            return found

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> CallbackReceiver:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


# Every peer still running: the test process stops them on its way out, whatever the tests did.
_running: set[KannelPeer] = set()


@atexit.register
def _stop_every_peer() -> None:
    for peer in list(_running):
        peer.close()


class KannelPeer:
    """bearerbox, smsbox and fakesmsc on loopback, configured in `workdir` (see the module docstring).

    Use as a context manager (started on entry, stopped on exit) or call `start()` and `close()`.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        callback_base: str,
        callback_secret: str = "",
        username: str = "onboard90",
        password: str | None = None,
        sender: str = "10086",
        max_messages: int = MAX_PARTS,
        ready_timeout: float = 15,
    ):
        self.workdir = Path(workdir)
        self.callback_base = callback_base.rstrip("/")
        self.callback_secret = callback_secret
        self.username = username
        self.password = password or secrets.token_urlsafe(12)
        self.sender = sender
        self.max_messages = max_messages
        self.ready_timeout = ready_timeout
        self.admin_port = free_port()
        self.smsbox_port = free_port()
        self.sendsms_port = free_port()
        self.smsc_port = free_port("")  # the fake SMS centre listens on every interface (it has no option)
        self.sendsms_url = f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"
        self._status_password = secrets.token_hex(8)
        self.config = self.workdir / "kannel.conf"
        self.fifo = self.workdir / "handsets.fifo"
        self.handset_log = self.workdir / "fakesmsc.log"
        self._processes: dict[str, subprocess.Popen] = {}
        self._fifo_fd: int | None = None

    # -- whole gateway -------------------------------------------------------------------------------------

    def start(self) -> KannelPeer:
        """Start whatever of bearerbox, smsbox and fakesmsc is not running, and wait until each is ready."""
        _running.add(self)
        self._write_config()
        if not self._alive("bearerbox"):
            # A fake SMS centre left from a bearerbox that died is connected to nothing: started again with it.
            self._terminate("fakesmsc")
            self._spawn("bearerbox", [str(BEARERBOX), "-v", "1", str(self.config)])
            wait_until(self._answers_status, timeout=self.ready_timeout, what="bearerbox's status page")
        if not self._alive("smsbox"):
            self._spawn("smsbox", [str(SMSBOX), "-v", "1", str(self.config)])
            wait_until(self._sendsms_answers, timeout=self.ready_timeout, what="smsbox's sendsms")
            wait_until(
                lambda: "smsbox:" in self.status(), timeout=self.ready_timeout, what="smsbox on bearerbox"
            )
        if not self._alive("fakesmsc"):
            self.start_smsc()
        return self

    def stop(self) -> None:
        """Stop the whole gateway (an outage): the SMS centre, smsbox, then bearerbox. Its spool stays, so
        what it had queued goes out after `start()`."""
        for name in ("fakesmsc", "smsbox", "bearerbox"):
            self._terminate(name)

    def freeze(self, box: str) -> None:
        """Stop `box` ("bearerbox", "smsbox" or "fakesmsc") where it stands (SIGSTOP): it keeps its sockets
        and reads nothing, as a hung process does. `thaw` lets it go on; `kill` ends it."""
        self._process(box).send_signal(signal.SIGSTOP)

    def thaw(self, box: str) -> None:
        self._process(box).send_signal(signal.SIGCONT)

    def kill(self, box: str) -> None:
        """End `box` at once (SIGKILL), frozen or not, without its clean shutdown: a crash. `start()` starts it
        again."""
        process = self._processes.pop(box)
        process.kill()
        process.wait(timeout=10)

    def close(self) -> None:
        """Stop everything and let go of the handsets' pipe; the peer can be started again."""
        self.stop()
        if self._fifo_fd is not None:
            os.close(self._fifo_fd)
            self._fifo_fd = None
        _running.discard(self)

    def __enter__(self) -> KannelPeer:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- the SMS centre link -------------------------------------------------------------------------------

    def start_smsc(self) -> None:
        """Start fakesmsc and wait until bearerbox has it as its SMS centre link."""
        self._handset_pipe()
        self._spawn(
            "fakesmsc",
            [str(FAKESMSC), "-H", "127.0.0.1", "-r", str(self.smsc_port), "-i", "0.01", "-v", "0"],
            stdin=self._fifo_fd,
            log=self.handset_log,
        )
        wait_until(self._smsc_connected, timeout=self.ready_timeout, what="fakesmsc connected to bearerbox")

    def stop_smsc(self) -> None:
        """Stop fakesmsc (the SMS centre goes away; bearerbox keeps what it is given for later)."""
        self._terminate("fakesmsc")
        if self._alive("bearerbox"):
            wait_until(
                lambda: not self.smsc_online(), timeout=self.ready_timeout, what="bearerbox to lose fakesmsc"
            )

    def smsc_online(self) -> bool:
        line = next(
            (line for line in self.status().splitlines() if line.strip().startswith(f"{SMSC_ID}[")), ""
        )
        return "(online" in line

    # -- the handsets --------------------------------------------------------------------------------------

    def received(self) -> list[HandsetMessage]:
        """Every message the handsets got, in arrival order, over every fakesmsc run of this peer."""
        if not self.handset_log.exists():
            return []
        text = self.handset_log.read_text(encoding="utf-8", errors="replace")
        return [parse_fakesmsc_line(line) for line in re.findall(r"Got message \d+: <(.*)>$", text, re.M)]

    def wait_received(
        self, count: int = 1, *, to: str | None = None, timeout: float = 10
    ) -> list[HandsetMessage]:
        """The messages received (by handset `to`, or by any), once there are at least `count` of them."""

        def enough() -> list[HandsetMessage] | None:
            got = [message for message in self.received() if to is None or message.receiver == to]
            return got if len(got) >= count else None

        return wait_until(enough, timeout=timeout, what=f"{count} message(s) at {to or 'the handsets'}")

    def inject_mo(self, sender: str, text: str, *, to: str | None = None, timeout: float = 10) -> None:
        """A handset (`sender`) sends `text` to `to` (our sender number by default): plain ASCII as fakesmsc
        "text", anything else as "ucs2". Returns once fakesmsc has passed it to bearerbox."""
        if not self._alive("fakesmsc"):
            raise RuntimeError("fakesmsc is not running")
        if text.isascii() and text.isprintable():
            line = f"{sender} {to or self.sender} text {text}\n"
        else:
            body = urllib.parse.quote(text.encode("utf-16-be"), safe="")
            line = f"{sender} {to or self.sender} ucs2 {body}\n"
        if len(line.encode()) > FAKESMSC_LINE_MAX:
            raise ValueError(
                f"fakesmsc reads at most {FAKESMSC_LINE_MAX} bytes a line; this is {len(line.encode())}"
            )
        # fakesmsc reads stdin through stdio but waits on it with select: a second line written before it took
        # the first would sit in its buffer unseen. One line, then wait until it says it has sent it.
        before = self._mo_sent()
        os.write(self._fifo_fd, line.encode())
        wait_until(
            lambda: self._mo_sent() > before, timeout=timeout, what="fakesmsc to send the handset's reply"
        )

    def _mo_sent(self) -> int:
        if not self.handset_log.exists():
            return 0
        return len(re.findall(r"fakesmsc: sent message \d+", self.handset_log.read_text(errors="replace")))

    # -- status ----------------------------------------------------------------------------------------------

    def status(self) -> str:
        """bearerbox's status.txt, or "" when it does not answer."""
        url = f"http://127.0.0.1:{self.admin_port}/status.txt?password={self._status_password}"
        try:
            with _direct.open(url, timeout=2) as response:
                return response.read().decode("utf-8", "replace")
        except (OSError, urllib.error.URLError):
            return ""

    def _smsc_connected(self) -> bool:
        self._check_alive("fakesmsc")
        return self.smsc_online()

    def _answers_status(self) -> bool:
        self._check_alive("bearerbox")
        return bool(self.status())

    def _sendsms_answers(self) -> bool:
        """Whether smsbox's HTTP interface answers at all (without credentials it answers 403)."""
        self._check_alive("smsbox")
        try:
            with _direct.open(self.sendsms_url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    # -- processes -------------------------------------------------------------------------------------------

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "spool").mkdir(exist_ok=True)
        # Kannel reads %<letter> as an escape anywhere in the URL: a literal % is doubled.
        secret = urllib.parse.quote(self.callback_secret, safe="").replace("%", "%%")
        get_url = (
            f"{self.callback_base.replace('%', '%%')}{MO_PATH}"
            f"?from=%p&to=%P&text=%a&smsc=%i&ts=%T&coding=%c&charset=%C&secret={secret}"
        )
        self.config.write_text(
            f"""\
group = core
admin-port = {self.admin_port}
admin-interface = 127.0.0.1
admin-password = {secrets.token_hex(8)}
status-password = {self._status_password}
admin-allow-ip = "127.0.0.1"
smsbox-port = {self.smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = "{self.workdir / "bearerbox.log"}"
log-level = 1
dlr-storage = internal
store-type = spool
store-location = "{self.workdir / "spool"}"

group = smsc
smsc = fake
smsc-id = {SMSC_ID}
port = {self.smsc_port}
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.smsbox_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
global-sender = {self.sender}
mo-recode = true
log-file = "{self.workdir / "smsbox.log"}"
log-level = 1

group = sendsms-user
username = "{self.username}"
password = "{self.password}"
concatenation = true
max-messages = {self.max_messages}

group = sms-service
keyword = default
catch-all = true
get-url = "{get_url}"
max-messages = 0
""",
            encoding="utf-8",
        )

    def _handset_pipe(self) -> None:
        """The named pipe fakesmsc reads handsets' replies from, held open for writing by this peer: fakesmsc
        stops at the end of its input, which a pipe without a writer would give it."""
        if self._fifo_fd is None:
            if not self.fifo.exists():
                os.mkfifo(self.fifo)
            self._fifo_fd = os.open(self.fifo, os.O_RDWR)

    def _spawn(
        self, name: str, argv: list[str], *, stdin: int | None = None, log: Path | None = None
    ) -> None:
        # With setpriv the process is killed with the test process even if that one is killed outright.
        setpriv = shutil.which("setpriv")
        if setpriv:
            argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
        with open(log or self.workdir / f"{name}.out", "ab") as out:
            self._processes[name] = subprocess.Popen(
                argv,
                cwd=self.workdir,
                stdin=stdin if stdin is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def _process(self, name: str) -> subprocess.Popen:
        if not self._alive(name):
            raise RuntimeError(f"{name} is not running")
        return self._processes[name]

    def _alive(self, name: str) -> bool:
        process = self._processes.get(name)
        return process is not None and process.poll() is None

    def _check_alive(self, name: str) -> None:
        process = self._processes.get(name)
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: {self._log_tail(name)}")

    def _log_tail(self, name: str, lines: int = 15) -> str:
        for path in (self.workdir / f"{name}.log", self.workdir / f"{name}.out"):
            if path.exists():
                return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def _terminate(self, name: str, grace: float = 5) -> None:
        process = self._processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        process.send_signal(signal.SIGCONT)  # a frozen one (`freeze`) handles its SIGTERM once it runs again
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
