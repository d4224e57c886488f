"""SMS gateways behind one interface: `SmsGateway.send(message) -> SendResult`.

The console and file gateways serve the embedded default and the tests; real gateways (Kannel, SMPP)
plug in here, chosen by settings.ONBOARD90['SMS_GATEWAY'].
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings

from onboard90.core import clock


@dataclass(frozen=True)
class SendResult:
    ok: bool
    ref: str = ""
    error: str = ""


class SmsGateway(Protocol):
    """What the dispatcher needs of a gateway. A gateway may also offer
    `accepted(candidates: {message_id: (msisdn, text)}) -> {message_id: ref}`: which of those it took,
    so that sends cut off by a crash are settled exactly once (see `outbox_recover`)."""

    name: str

    def send(self, *, msisdn: str, text: str, message_id: int) -> SendResult: ...


class FileGateway:
    """Appends each message as one JSON line to a file (what an operator can tail, grep and audit)."""

    name = "file"
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

    def send(self, *, msisdn: str, text: str, message_id: int) -> SendResult:
        print(f"[SMS → {msisdn}] {text}", file=sys.stderr)
        return SendResult(ok=True, ref=f"console:{message_id}")


class MemoryGateway:
    """Keeps messages in a list; tests use it to see exactly what went out (and can make sends fail)."""

    name = "memory"

    def __init__(self, fail_for: set[str] | None = None):
        self.sent: list[tuple[str, str]] = []
        self.ids: dict[int, tuple[str, str]] = {}
        self.fail_for = fail_for or set()

    def send(self, *, msisdn: str, text: str, message_id: int) -> SendResult:
        if msisdn in self.fail_for:
            return SendResult(ok=False, error="gateway refused")
        self.sent.append((msisdn, text))
        self.ids[message_id] = (msisdn, text)
        return SendResult(ok=True, ref=f"mem:{message_id}")

    def accepted(self, candidates: dict[int, tuple[str, str]]) -> dict[int, str]:
        return {pk: f"mem:{pk}" for pk, sent in candidates.items() if self.ids.get(pk) == sent}


def gateway_from_settings() -> SmsGateway:
    name = settings.ONBOARD90["SMS_GATEWAY"]
    if name == "file":
        return FileGateway()
    if name == "console":
        return ConsoleGateway()
    raise ValueError(f"unknown SMS gateway {name!r} (choose file or console)")
