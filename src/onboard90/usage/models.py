"""用量: what each customer used, by day (for the data-surge window) and by bill month (for package fit).

Chosen for volume (a province is about a million customers inside their 90 days, a day's file holds a row
for each): three integers a row, one row per customer and day or month, no text but the month key. What is
kept and for how long: docs/USAGE.md (the day rows back to the first day of the month that holds the start
of the surge window, the month rows for the journey's months; `usage.services.usage_prune`).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from onboard90.core.fields import RecordedAt


class UsageLoad(models.Model):
    """一次用量写入: one committed chunk of a usage import, or one `usage_daily` event.

    Every day and month row a write changed carries its load's id (`load_id`), so whoever acts on usage at
    the daily cycle (the surge alert, package fit) claims the loads no finished cycle has consumed
    (`consumed_by`, as the customers' change log works) and reads the rows they wrote, and nothing else.
    Usage does not go through `customers.CustomerChange`: a day's file touches every customer, and the
    cycle would look again at every journey each day for facts its other acts do not read.
    """

    id = models.BigAutoField(primary_key=True)
    source = models.CharField(_("来源"), max_length=64, blank=True)
    rows = models.PositiveIntegerField(_("写入行数"), default=0)
    loaded_at = RecordedAt(_("写入时间"), auto_now_add=True)
    # Plain id, not a foreign key: the cycle run belongs to an app above this one.
    consumed_by = models.BigIntegerField(_("处理的日处理"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("用量写入批次")
        verbose_name_plural = _("用量写入批次")

    def __str__(self) -> str:
        return f"{self.source} ({self.rows})"


class UsageDay(models.Model):
    """日用量: one customer's usage on one local day (通话分钟, 流量MB, 短信条数). A re-imported day replaces it."""

    id = models.BigAutoField(primary_key=True)
    # No index of its own: the unique (customer, day) key begins with the customer and serves every look-up
    # by customer (and the cascade); a second index would only be paid on every day's write.
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="usage_days",
        verbose_name=_("客户"),
        db_index=False,
    )
    day = models.DateField(_("日期"), db_index=True)
    voice_min = models.PositiveIntegerField(_("通话分钟"), default=0)
    data_mb = models.PositiveIntegerField(_("流量(MB)"), default=0)
    sms = models.PositiveIntegerField(_("短信(条)"), default=0)
    load_id = models.BigIntegerField(_("写入批次"), db_index=True)

    class Meta:
        verbose_name = _("日用量")
        verbose_name_plural = _("日用量")
        constraints = [models.UniqueConstraint(fields=["customer", "day"], name="usage_day_customer_day")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.day}"


class UsageMonth(models.Model):
    """月用量: the sums of a customer's days in one bill month (自然月, YYYY-MM), and how many days they are.

    Always the sum of the day rows of that month as they stand (every write moves it by the difference it
    makes to its days); a month whose days have been pruned is settled and stays as it was.
    """

    id = models.BigAutoField(primary_key=True)
    # No index of its own, as the day rows': the unique (customer, month) key serves it.
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="usage_months",
        verbose_name=_("客户"),
        db_index=False,
    )
    month = models.CharField(_("账期"), max_length=7)  # YYYY-MM, as customers.Bill.bill_month
    voice_min = models.PositiveIntegerField(_("通话分钟"), default=0)
    data_mb = models.PositiveIntegerField(_("流量(MB)"), default=0)
    sms = models.PositiveIntegerField(_("短信(条)"), default=0)
    days = models.PositiveSmallIntegerField(_("计入天数"), default=0)
    # Not indexed (every index is paid on every day's write): a month changed by a load is found through
    # the day rows of that load, which are.
    load_id = models.BigIntegerField(_("写入批次"))

    class Meta:
        verbose_name = _("月用量")
        verbose_name_plural = _("月用量")
        constraints = [
            models.UniqueConstraint(fields=["customer", "month"], name="usage_month_customer_month")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.month}"
