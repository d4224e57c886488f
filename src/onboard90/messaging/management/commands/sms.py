"""`onboard90 sms preview ACTION [--msisdn M | --package CODE --city CITY] [--json]`: an act's SMS as it
will be sent, with its length and parts."""

from __future__ import annotations

from typing import Any

from onboard90.core.commands import OnboardCommand
from onboard90.messaging.selectors import sms_preview


class Command(OnboardCommand):
    help = "短信预览 / preview an act's SMS for a customer, or for a package in a city"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        preview = sub.add_parser("preview", help="预览短信 / preview an SMS")
        preview.add_argument("action", help="服务动作编码 / act code, e.g. tariff_notice")
        preview.add_argument("--msisdn", help="客户号码 / a customer's number")
        preview.add_argument("--package", help="套餐编码 / a catalogue package code, e.g. A66")
        preview.add_argument("--city", help="地市编码 / city code, e.g. jinan")
        preview.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        # A refusal (PreviewRefused, a ValueError) is a one-line error with exit code 1 (OnboardCommand).
        shown = sms_preview(
            action_code=options["action"], msisdn=options["msisdn"], package_code=options["package"],
            city_code=options["city"],
        )
        if options["json"]:
            self.emit_json(shown)
            return
        who = shown.get("msisdn") or f"{shown['package']} {shown['city']}".strip()
        self.stdout.write(f"{shown['action']} → {who}")
        self.stdout.write(shown["text"])
        over = "  超出上限 / over the playbook's limit" if shown["parts"] > shown["max_parts"] else ""
        self.stdout.write(
            f"{shown['characters']} 字 / characters, {shown['coding']}, {shown['parts']} 条 / parts "
            f"(上限 / at most {shown['max_parts']}){over}"
        )
