"""`onboard90 dispatch [--once] [--every SECONDS]`: send what is due through the configured gateway.

The outbox-dispatch job on its own (the daily cycle runs it in line too): with `--once` one pass, else a
pass every `--every` seconds (default 60) until stopped. One dispatcher at a time per database: a second
one started meanwhile finds the first at work and leaves the outbox to it.
"""

from __future__ import annotations

import time
from typing import Any

from onboard90.core.commands import OnboardCommand
from onboard90.messaging.gateways import gateway_from_settings
from onboard90.messaging.services import outbox_dispatch_due

SHOWN = ("sms_sent", "sms_retried", "sms_unconfirmed", "sms_failed", "sms_missed", "sms_suppressed", "sms_held")


class Command(OnboardCommand):
    help = "发送到期短信 / send the SMS that are due through the configured gateway"

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="只发送一轮 / one pass, then exit")
        parser.add_argument(
            "--every", type=int, default=60, help="两轮间隔秒数 / seconds between passes (default 60)"
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        gateway = gateway_from_settings()
        while True:
            counts = outbox_dispatch_due(gateway=gateway)
            if options["json"]:
                self.emit_json({"gateway": gateway.name, **counts})
            elif counts.get("busy"):
                self.stdout.write("另一个发送进程正在运行 / another dispatcher is at work; leaving the outbox to it")
            else:
                shown = " ".join(f"{key}={counts.get(key, 0)}" for key in SHOWN)
                self.stdout.write(f"发送 / dispatch via {gateway.name}: {shown}")
            if options["once"]:
                return
            time.sleep(max(options["every"], 1))
