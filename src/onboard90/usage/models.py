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
    # No index of its own, as the day rows': the unique (customer, month) key serves it. Not checked by the
    # database either, like the engine's other bulk-written references: a month moves only with the day rows it
    # sums, in the same transaction, and their foreign key checks the customer; a second check per month row
    # (PostgreSQL checks a deferred key row by row at commit) was a quarter of a 1M-row import.
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="usage_months",
        verbose_name=_("客户"),
        db_index=False,
        db_constraint=False,
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


# --- what the daily cycle concludes from usage (usage.verdicts) ----------------------------------------------


class FitVerdict(models.TextChoices):
    FITS = "fits", _("合适")
    DOES_NOT_FIT = "does_not_fit", _("不合适")


class PackageFitVerdict(models.Model):
    """套餐适配结论: the package-fit verdict the daily cycle made for one customer (usage.verdicts), the one
    the engine's audiences read (`package_fit`) and the pages show. Money in fen a month.

    One row per customer, replaced when their usage changes while the coaching's window is open; what it
    was priced on is kept with it (`months`, `comparison`), so a page shows the table the verdict came from.
    """

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="package_fit", verbose_name=_("客户")
    )
    as_of = models.DateField(_("判定日"))
    months = models.CharField(_("计价账期"), max_length=32)  # YYYY-MM,YYYY-MM
    package = models.CharField(_("当前套餐"), max_length=16)
    recommended = models.CharField(_("推荐套餐"), max_length=16)
    current_cost = models.PositiveIntegerField(_("当前每月费用(分)"))
    saving = models.PositiveIntegerField(_("每月可省(分)"))
    verdict = models.CharField(_("结论"), max_length=16, choices=FitVerdict.choices)
    saves_enough = models.BooleanField(_("他套餐省得多"), default=False)
    under_used = models.BooleanField(_("额度用不到一半"), default=False)
    explanation = models.TextField(_("说明"))
    # {"months": [...], "usage": [[min, MB, SMS] per month], "packages": [[code, [fen per month]], ...]}
    comparison = models.JSONField(_("比较表"), default=dict)
    computed_at = RecordedAt(_("计算时间"), auto_now=True)

    class Meta:
        verbose_name = _("套餐适配结论")
        verbose_name_plural = _("套餐适配结论")
        indexes = [models.Index(fields=["verdict"], name="usage_fit_verdict")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.verdict}"


class OfferKind(models.TextChoices):
    DATA = "data", _("流量包")
    VOICE = "voice", _("语音包")
    SMS = "sms", _("短信包")
    CONTENT = "content", _("增值业务")


class Offer(models.Model):
    """优惠: an add-on pack or service the value-added recommendation may name (telecom-facts §1.9 as the
    default catalogue; editable in the admin).

    The choice rule is data too: a pack of `kind` data/voice/SMS is offered when the customer's first month,
    taken to a whole month, uses at least `trigger_percent` % of that allowance (any use when the package
    has none), the smallest pack that covers the overflow; a content service (`kind` content) is the offer
    for everyone else, the lowest `rank` first.
    """

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    kind = models.CharField(_("类别"), max_length=16, choices=OfferKind.choices)
    price = models.DecimalField(_("月费(元)"), max_digits=8, decimal_places=2)
    amount = models.PositiveIntegerField(_("包含量(MB/分钟/条)"), default=0)
    trigger_percent = models.PositiveSmallIntegerField(_("触发用量(占套餐%)"), default=80)
    rank = models.PositiveSmallIntegerField(_("顺序"), default=10)
    pitch = models.CharField(_("短信推荐语"), max_length=120)
    active = models.BooleanField(_("在用"), default=True)

    class Meta:
        verbose_name = _("优惠")
        verbose_name_plural = _("优惠")
        ordering = ["kind", "rank", "amount"]

    def __str__(self) -> str:
        return self.name


class OfferChoice(models.Model):
    """增值业务推荐: the offer chosen for one customer from their first month's usage, and what became of it
    (made: its SMS was written; accepted: a 1/是 reply; taken: the follow-up task reached the customer)."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="offer_choice", verbose_name=_("客户")
    )
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="choices", verbose_name=_("优惠"))
    month = models.CharField(_("依据账期"), max_length=7)
    reason = models.CharField(_("理由"), max_length=255)
    as_of = models.DateField(_("选择日"))
    made_at = models.DateTimeField(_("推荐时间"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("客户回复有意向"), null=True, blank=True)
    taken_at = models.DateTimeField(_("办理时间"), null=True, blank=True)
    taken_via = models.CharField(_("办理途径"), max_length=16, blank=True)

    class Meta:
        verbose_name = _("优惠推荐")
        verbose_name_plural = _("优惠推荐")

    def __str__(self) -> str:
        return f"{self.customer_id} {self.offer_id}"


# --- the data-surge alerts the daily cycle raised (journeys.surge_acts) ---------------------------------------


class SurgeKind(models.TextChoices):
    DAY_SURGE = "day_surge", _("单日流量突增")
    MONTH_SHARE = "month_share", _("当月流量达套餐比例")


class SurgeAlert(models.Model):
    """流量提醒记录: one data-surge alert the daily cycle raised for a customer, with the figures that set it off.

    One per threshold per bill month: a day surge (`percent` 0) at most once a month, and each share of the
    allowance the playbook names (`percent` 80, 100) once a month. The database holds that — the unique key
    below — and the cycle inserts ignoring conflicts, so a rerun or a crashed cycle's rerun doubles nothing.
    The month crossings are one kind with a percent, not a kind per percent, because the percents are playbook
    data (`data_surge.month_percents`): an operator who adds 50 % needs no new code.

    Figures are whole MB as `usage.surge` judged them: the day's use and the customer's own median before it
    (a half where the days held are even; None when fewer than the playbook's `min_days` were held), the days
    held, the month up to the day before and with it, and the package's data allowance (0: none or unlimited).
    Kept as long as the customer (docs/USAGE.md).
    """

    id = models.BigAutoField(primary_key=True)
    # Not checked by the database, like the engine's other bulk-written references (journeys.models
    # ENGINE_WRITTEN), and no index of its own: the unique key begins with the customer.
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="surge_alerts",
        verbose_name=_("客户"),
        db_index=False,
        db_constraint=False,
    )
    bill_month = models.CharField(_("账期"), max_length=7)  # YYYY-MM, as UsageMonth.month and Bill.bill_month
    kind = models.CharField(_("类别"), max_length=16, choices=SurgeKind.choices)
    percent = models.PositiveSmallIntegerField(_("占套餐流量%"), default=0)  # 0 for a day surge
    day = models.DateField(_("用量日期"))  # the usage day that set it off
    day_mb = models.PositiveIntegerField(_("当日流量(MB)"))
    median_mb = models.DecimalField(_("日中位数(MB)"), max_digits=9, decimal_places=1, null=True, blank=True)
    days_held = models.PositiveSmallIntegerField(_("参照天数"))
    month_mb_before = models.PositiveIntegerField(_("当月此前流量(MB)"))
    month_mb_after = models.PositiveIntegerField(_("当月累计流量(MB)"))
    allowance_mb = models.PositiveIntegerField(_("套餐流量(MB)"))
    # The SMS that told the customer; None when none was written (opted out of a marketing alert, or outside the
    # message's own audience). A string reference, not an import: messaging is an app above this one, and the
    # customer page reads the alert with its message in one join.
    message = models.ForeignKey(
        "messaging.OutboxMessage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("短信"),
        db_constraint=False,
    )
    # The cycle run's id, a plain id as UsageLoad.consumed_by: the run belongs to an app above this one.
    raised_by = models.BigIntegerField(_("日处理"))
    created_at = RecordedAt(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("流量提醒记录")
        verbose_name_plural = _("流量提醒记录")
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "bill_month", "kind", "percent"], name="usage_surge_alert_once_a_month"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.bill_month} {self.kind} {self.percent}"
