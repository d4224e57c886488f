"""`onboard90 webhooks add NAME URL --events …`, `webhooks list`, `webhooks remove ID`, `webhooks deliver [--once]
[--every S]`: a system account's webhook subscriptions, and the deliverer of their events (事件通知)."""

from __future__ import annotations

import signal
import time
from typing import Any

from django.core.management.base import CommandError

from onboard90.api.models import WebhookSubscription
from onboard90.api.webhooks import EVENT_TYPES, webhook_add, webhook_as_dict, webhook_remove, webhooks_deliver
from onboard90.core import clock
from onboard90.core.commands import OnboardCommand


class Command(OnboardCommand):
    help = "事件订阅 / webhooks: add (secret shown once), list, remove, deliver"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", metavar="add|list|remove|deliver", required=True)
        add = sub.add_parser("add", help="新建订阅（密钥只显示一次）/ subscribe a system account's URL")
        add.add_argument("name", help="系统账号名 / the system account (onboard90 apikey create NAME)")
        add.add_argument("url", help="接收地址 / the receiver's http(s) URL")
        add.add_argument(
            "--events",
            nargs="+",
            required=True,
            help=f"事件类型 / event types ({', '.join(EVENT_TYPES)}) or all",
        )
        add.add_argument("--json", action="store_true", help="JSON 输出 / print the subscription as JSON")
        lst = sub.add_parser("list", help="订阅列表 / list subscriptions (never their secrets)")
        lst.add_argument("--json", action="store_true")
        remove = sub.add_parser(
            "remove", help="停用订阅 / remove a subscription (pending events are given up)"
        )
        remove.add_argument("id", type=int)
        deliver = sub.add_parser("deliver", help="投递待发事件 / deliver the events that are due")
        deliver.add_argument(
            "--once", action="store_true", help="投递一轮后退出 / one round, then exit (default)"
        )
        deliver.add_argument(
            "--every",
            type=float,
            metavar="S",
            help="每S秒一轮，直到中断 / a round every S seconds until stopped",
        )
        deliver.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "add":
            new = webhook_add(name=options["name"], url=options["url"], event_types=options["events"])
            row = webhook_as_dict(new.subscription)
            if options["json"]:
                self.emit_json({**row, "secret": new.secret})
                return
            self.stdout.write(
                f"已订阅 / subscription {row['id']} for {row['account']}: {', '.join(row['event_types'])} → {row['url']}"
            )
            self.stdout.write(f"签名密钥 / signing secret: {new.secret}")
            self.stdout.write("请立即保存，密钥不会再次显示 / store it now: it is not shown again")
        elif action == "list":
            rows = [webhook_as_dict(s) for s in WebhookSubscription.objects.select_related("account")]
            if options["json"]:
                self.emit_json(rows)
                return
            if not rows:
                self.stdout.write("没有订阅 / no subscriptions (onboard90 webhooks add NAME URL --events …)")
            for r in rows:
                state = "有效 active" if r["active"] else f"停用 removed {r['removed_at'][:16]}"
                self.stdout.write(
                    f"{r['id']:>4} {r['account']:<16} {state:<28} {','.join(r['event_types'])}  {r['url']}"
                )
        elif action == "remove":
            sub = webhook_remove(subscription_id=options["id"])
            self.stdout.write(f"已停用 / removed: subscription {sub.pk} ({sub.url})")
        elif action == "deliver":
            self._deliver(options)
        else:  # pragma: no cover - argparse enforces the choice
            raise CommandError("用法 / usage: onboard90 webhooks add|list|remove|deliver …")

    def _deliver(self, options: dict[str, Any]) -> None:
        every = options["every"]
        if every is not None and every <= 0:
            raise CommandError("--every 须为正数 / --every must be a positive number of seconds")
        stop = []
        if every is not None:
            signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
        while True:
            counts = webhooks_deliver(now=clock.now())
            if options["json"]:
                self.emit_json(counts)
            else:
                self.stdout.write(
                    f"{clock.now():%Y-%m-%d %H:%M:%S} 已投递 delivered={counts['delivered']} "
                    f"待重试 retried={counts['retried']} 失败 failed={counts['failed']}"
                    + (" 另一个投递进程正在运行 / another deliverer is running" if counts.get("busy") else "")
                )
            if every is None or options["once"] or stop:
                return
            try:
                time.sleep(every)
            except KeyboardInterrupt:
                return
            if stop:
                return
