"""SMS gateways behind one interface, `SmsGateway`: a `name`, a `batch` size and `send(…) -> SendResult`.

The console and file gateways serve the embedded default, the memory one the tests, the buffered file
one the demo's simulated history and the null one the bench; the Kannel one (`kannel.KannelGateway`) hands
messages to a real SMS gateway, and others (SMPP) plug in here, chosen by settings.ONBOARD90['SMS_GATEWAY'].
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from django.conf import settings

from onboard90.core import clock

# Messages claimed and handed to a gateway per round: also the most a crash can leave unsettled.
SEND_BATCH = 200


# What became of a message handed to a gateway (`SendResult.fate`): the dispatcher treats each differently.
SENT = "sent"  # accepted by the gateway
QUEUED = "queued"  # accepted and stored: the gateway delivers it later (counts as sent)
TRANSIENT = "transient"  # certainly not taken (gateway unreachable, overloaded): safe to send again later
PERMANENT = "permanent"  # refused for good (authorization, a malformed request): sending again cannot help
UNKNOWN = "unknown"  # cut off once the request left: may have been taken, never resend blindly
FATES = (SENT, QUEUED, TRANSIENT, PERMANENT, UNKNOWN)


@dataclass(frozen=True)
class SendResult:
    """A gateway's answer for one message: `ok` when it took it (fate SENT or QUEUED).

    A gateway that does not say more gets fate SENT when ok and TRANSIENT otherwise: the dispatcher's
    retry, which is what a refusal meant before gateways could tell their failures apart."""

    ok: bool
    ref: str = ""
    error: str = ""
    fate: str = ""

    def __post_init__(self) -> None:
        if not self.fate:
            object.__setattr__(self, "fate", SENT if self.ok else TRANSIENT)
        if self.fate not in FATES:
            raise ValueError(f"unknown send fate {self.fate!r} (one of {', '.join(FATES)})")
        if self.ok != (self.fate in (SENT, QUEUED)):
            raise ValueError(f"a send with fate {self.fate!r} cannot have ok={self.ok}")


@runtime_checkable
class SmsGateway(Protocol):
    """Everything the dispatcher (`outbox_dispatch`) reads of a gateway.

    `name` is recorded on each message it is handed; `batch` is how many messages one dispatch round
    claims before handing them over, which is also the most a crash can leave unsettled (SEND_BATCH
    unless the gateway has nothing in flight). A gateway may also offer `accepted` (`RecoverableGateway`), and
    say `reports_delivery = True` when it sends delivery reports (Kannel): a send cut off by a crash is then
    left for a report to settle rather than sent again.
    """

    name: str
    batch: int

    def send(self, *, msisdn: str, text: str, message_id: int) -> SendResult: ...


@runtime_checkable
class RecoverableGateway(SmsGateway, Protocol):
    """A gateway that can say which messages it took: `accepted(candidates: {message_id: (msisdn, text)})
    -> {message_id: ref}`, so that sends cut off by a crash are settled exactly once. Optional: the
    dispatcher (`outbox_recover`) looks for it and sends again what a gateway without it cannot vouch for."""

    def accepted(self, candidates: dict[int, tuple[str, str]]) -> dict[int, str]: ...


class FileGateway:
    """Appends each message as one JSON line to a file (what an operator can tail, grep and audit)."""

    name = "file"
    batch = SEND_BATCH
    _lock = threading.Lock()

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path or settings.ONBOARD90["SMS_FILE"])

    def send(self, *, msisdn: str, text: str, message_id: int) -> SendResult:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {"id": message_id, "to": msisdn, "text": text, "logged_at": clock.now().isoformat()},
            ensure_ascii=False,
        )
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        return SendResult(ok=True, ref=f"file:{message_id}")

    def accepted(self, candidates: dict[int, tuple[str, str]]) -> dict[int, str]:
        """The candidates whose line is in the file (same id, number and text; a torn last line is not)."""
        found: dict[int, str] = {}
        if not candidates or not self.path.exists():
            return found
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                message_id = entry.get("id") if isinstance(entry, dict) else None
                if message_id in candidates and candidates[message_id] == (entry.get("to"), entry.get("text")):
                    found[message_id] = f"file:{message_id}"
        return found


class ConsoleGateway:
    """Prints each message to stderr (stdout stays clean for --json output)."""

    name = "console"
    batch = SEND_BATCH

    def send(self, *, msisdn: str, text: str, message_id: int) -> SendResult:
        print(f"[SMS → {msisdn}] {text}", file=sys.stderr)
        return SendResult(ok=True, ref=f"console:{message_id}")


class MemoryGateway:
    """Keeps messages in a list; tests use it to see exactly what went out, and to make sends fail.

    `fail_for` numbers are refused as an unreachable gateway would (TRANSIENT); `fates` answers a number
    with any fate — PERMANENT refuses it, UNKNOWN takes it (it is in `sent`: the customer has it) but
    answers as a timeout would.
    """

    name = "memory"
    batch = SEND_BATCH

    def __init__(self, fail_for: set[str] | None = None, fates: dict[str, str] | None = None):
        self.sent: list[tuple[str, str]] = []
        self.ids: dict[int, tuple[str, str]] = {}
        self.fates = {**dict.fromkeys(fail_for or (), TRANSIENT), **(fates or {})}

    def send(self, *, msisdn: str, text: str, message_id: int) -> SendResult:
        fate = self.fates.get(msisdn, SENT)
        if fate in (TRANSIENT, PERMANENT):
            return SendResult(ok=False, error=f"gateway refused ({fate})", fate=fate)
        self.sent.append((msisdn, text))
        self.ids[message_id] = (msisdn, text)
        if fate == UNKNOWN:
            return SendResult(ok=False, error="no answer (timeout)", fate=UNKNOWN)
        return SendResult(ok=True, ref=f"mem:{message_id}", fate=fate)

    def accepted(self, candidates: dict[int, tuple[str, str]]) -> dict[int, str]:
        return {pk: f"mem:{pk}" for pk, sent in candidates.items() if self.ids.get(pk) == sent}


class BufferedFileGateway:
    """The demo's gateway: keeps what a cycle sends and appends it to a JSON-lines file (var/demo/
    sms-sent.jsonl) once, on `flush()`, each line stamped with `as_of` (the simulated time) when set; a
    per-message file append would dominate the simulated history."""

    name = "demo"
    batch = 2000  # messages claimed per round (see outbox_dispatch): nothing is in flight here

    def __init__(self, path: Path):
        self.path = path
        self.as_of: dt.datetime | None = None
        self._lines: list[str] = []

    def send(self, *, msisdn: str, text: str, message_id: int) -> SendResult:
        at = self.as_of.isoformat() if self.as_of else clock.now().isoformat()
        self._lines.append(json.dumps({"id": message_id, "to": msisdn, "text": text, "at": at}, ensure_ascii=False))
        return SendResult(ok=True, ref=f"demo:{message_id}")

    def flush(self) -> None:
        if self._lines:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write("\n".join(self._lines) + "\n")
            self._lines = []


class NullGateway:
    """Accepts every message and keeps nothing: the bench times the outbox, not a gateway."""

    name = "bench"
    batch = SEND_BATCH

    def send(self, *, msisdn: str, text: str, message_id: int) -> SendResult:
        return SendResult(ok=True, ref=f"bench-{message_id}")


def gateway_from_settings() -> SmsGateway:
    name = settings.ONBOARD90["SMS_GATEWAY"]
    if name == "file":
        return FileGateway()
    if name == "console":
        return ConsoleGateway()
    if name == "kannel":
        from onboard90.messaging.kannel import KannelGateway  # it builds on this module's SendResult

        return KannelGateway()
    raise ValueError(f"unknown SMS gateway {name!r} (choose file, console or kannel)")
