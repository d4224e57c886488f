"""`onboard90 journey MSISDN [--json]`: one customer's journey, every act with its status and owner."""

from __future__ import annotations

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.journeys import selectors
from onboard90.journeys.enums import ActionStatus


class Command(OnboardCommand):
    help = "查看客户导入期旅程 / show one customer's onboarding journey"

    def add_arguments(self, parser):
        parser.add_argument("msisdn")
        parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
        parser.add_argument("--date", help="按此日期查看 / as of this date (default: now)")

    def handle(self, *args, **options):
        as_of = clock.cycle_instant(clock.parse_date(options["date"])) if options["date"] else selectors.default_as_of()
        doc = selectors.journey_document(msisdn=options["msisdn"], as_of=as_of)
        if options["json"]:
            self.emit_json(doc)
            return
        labels = dict(ActionStatus.choices)
        self.stdout.write(
            f"号码 {doc['msisdn']}  入网 {doc['activated_on']}  第 {doc['day']} 天  阶段 {doc['stage'] or '-'}  "
            f"状态 {doc['status']}  VIP {'是' if doc['vip'] else '否'}  方案版本 v{doc['playbook_version']}"
        )
        self.stdout.write(
            f"  {'阶段':<2} {'动作 / act':<24} {'状态':<6} {'时间窗 / window':<25} {'责任单位 / unit':<18} "
            f"{'负责人 / staff':<12} 交付 / deliveries"
        )
        for a in doc["actions"]:
            window = f"{a['window_start'] or '-'} ~ {a['window_end'] or '-'}"
            deliveries = ",".join(
                f"{d['kind']}:{d['status']}" + ("(补录 backdated)" if d.get("backdated") else "") for d in a["deliveries"]
            ) or "-"
            self.stdout.write(
                f"  [{a['stage']}] {a['code']:<24} {labels.get(a['status'], a['status']):<6} {window:<25} "
                f"{a['owner_unit'] or '-':<18} {a['assignee'] or '-':<12} {deliveries}"
            )
