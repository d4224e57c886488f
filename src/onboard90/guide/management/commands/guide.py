"""`onboard90 guide MSISDN -o FILE.pdf [--handed-over --as USER [--at …]]`: print a customer's booklet.

Writes the customer's own 《3G客户常用服务指南》 as a PDF and, with --handed-over, records that it was handed
to them. A number that is not a Unicom mobile number, or no customer's, exits with code 2.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.customers.models import Customer
from onboard90.customers.validation import RowError, parse_msisdn
from onboard90.guide import booklet, services
from onboard90.journeys.management.commands._task_args import staff_user


class Command(OnboardCommand):
    help = "打印客户的《3G客户常用服务指南》/ print a customer's service-guide booklet (PDF)"

    def add_arguments(self, parser):
        parser.add_argument("msisdn", help="客户号码 / the customer's number")
        parser.add_argument(
            "-o", "--output", required=True, metavar="FILE.pdf", help="PDF 文件 / the PDF to write"
        )
        parser.add_argument(
            "--handed-over", action="store_true", help="同时记录已递交客户 / also record that it was handed over"
        )
        parser.add_argument(
            "--as", dest="as_user", metavar="USER", help="递交人 / who handed it over (username)"
        )
        parser.add_argument(
            "--at",
            help="递交时间 / when (default: now), YYYY-MM-DD[ HH:MM]; not in the future, not before activation",
        )

    def handle(self, *args, **options):
        if options["handed_over"] and not options["as_user"]:
            raise CommandError("--handed-over 须用 --as 指明递交人 / --handed-over needs --as USER")
        if not options["handed_over"] and (options["as_user"] or options["at"]):
            raise CommandError("--as / --at 只用于 --handed-over / --as and --at go with --handed-over")
        customer = _customer(options["msisdn"])
        user = staff_user(options["as_user"]) if options["handed_over"] else None
        at = clock.parse_instant(options["at"]) if options["at"] else None

        pdf = booklet.render_booklet(customer)
        path = Path(options["output"])
        try:
            path.write_bytes(pdf)
        except OSError as exc:
            raise CommandError(f"无法写入 / cannot write {path}: {exc.strerror}") from exc
        self.stdout.write(f"{customer.masked_msisdn}: {path} ({len(pdf) // 1024} KB)")

        if options["handed_over"]:
            handover = services.guide_hand_over(customer=customer, handed_over_by=user, at=at)
            acts = ", ".join(handover.journey_action_codes) or "-"
            self.stdout.write(
                f"已记录递交 / handed over {handover.handed_at.astimezone(clock.OPERATOR_TZ):%Y-%m-%d %H:%M} "
                f"by {handover.handed_over_label} (acts: {acts})"
            )


def _customer(text: str) -> Customer:
    """The customer of a number, or exit code 2 with one line saying why not."""
    try:
        msisdn = parse_msisdn(text)
    except RowError as exc:
        raise CommandError(exc.reason, returncode=2) from None
    customer = (
        Customer.objects.select_related("city", "store", "package", "vip_tier").filter(msisdn=msisdn).first()
    )
    if customer is None:
        raise CommandError(f"未找到客户 / no customer with number {msisdn}", returncode=2)
    return customer
