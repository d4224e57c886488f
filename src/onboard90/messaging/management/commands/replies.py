"""`onboard90 replies [--unmatched] [--since DATE] [--limit N] [--json]`: customers' replies (上行短信), newest
first, with what each was taken for — an opt-out, a survey score, an accepted offer — or `unmatched`: the ones
staff read and act on by hand. Numbers are masked (脱敏), times are local."""

from __future__ import annotations

from typing import Any

from django.utils import translation

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.core.masking import mask_msisdn
from onboard90.messaging.enums import ReplyKind
from onboard90.messaging.replies import replies_listed


def kind_labels(kind: str) -> tuple[str, str]:
    """A reply kind in Chinese and in English (from the catalog)."""
    label = ReplyKind(kind).label
    with translation.override("zh-hans"):
        chinese = str(label)
    with translation.override("en"):
        english = str(label)
    return chinese, english


class Command(OnboardCommand):
    help = "客户上行短信 / list customers' SMS replies and what each was taken for"

    def add_arguments(self, parser):
        parser.add_argument(
            "--unmatched", action="store_true", help="只列未识别的 / only the replies nothing matched"
        )
        parser.add_argument(
            "--since", metavar="DATE", help="从该日起(本地日期) / received on or after this local date (YYYY-MM-DD)"
        )
        parser.add_argument("--limit", type=int, default=200, help="最多条数 / at most this many (default 200)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        since = clock.parse_date(options["since"]) if options["since"] else None
        if options["limit"] < 1:
            raise ValueError("--limit 须为正数 / --limit must be at least 1")
        rows = []
        for reply in replies_listed(unmatched=options["unmatched"], since=since, limit=options["limit"]):
            chinese, english = kind_labels(reply.kind)
            rows.append({
                "id": reply.pk,
                "received_at": reply.received_at.astimezone(clock.OPERATOR_TZ).isoformat(),
                "msisdn": mask_msisdn(reply.msisdn),
                "customer": reply.customer is not None,
                "kind": reply.kind,
                "kind_zh": chinese,
                "kind_en": english,
                "action": reply.action.action_code if reply.action else None,
                "score": reply.score,
                "text": reply.text,
            })
        if options["json"]:
            self.emit_json(rows)
            return
        if not rows:
            self.stdout.write("没有上行短信 / no replies")
            return
        self.stdout.write(
            f"{'编号 id':>8}  {'接收时间 received':<17}  {'号码 number':<12}  {'识别 kind':<30}  {'动作 act':<20}  内容 text"
        )
        for row in rows:
            kind = f"{row['kind_zh']} / {row['kind_en']}"
            if row["score"] is not None:
                kind += f" {row['score']}"
            if not row["customer"]:
                kind += " · 非客户 / no customer"
            self.stdout.write(
                f"{row['id']:>8}  {row['received_at'][:16].replace('T', ' '):<17}  {row['msisdn']:<12}  {kind:<30}  "
                f"{row['action'] or '-':<20}  {row['text']}"
            )
