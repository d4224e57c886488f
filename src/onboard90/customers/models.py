"""Subscribers, the facts the plan keys on, and the events that change them."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from onboard90.core.fields import RecordedAt
from onboard90.core.masking import mask_msisdn, mask_name
from onboard90.customers.enums import CustomerStatus, EventType, FirstMonth, Product


class Customer(models.Model):
    """A new subscriber (入网客户). The *_on date columns are the engine's indexed anchors (local dates)."""

    msisdn = models.CharField(_("号码"), max_length=11, unique=True)
    name = models.CharField(_("姓名"), max_length=64, blank=True)
    city = models.ForeignKey("org.City", on_delete=models.PROTECT, related_name="customers", verbose_name=_("地市"))
    store = models.ForeignKey(
        "org.Unit", on_delete=models.PROTECT, related_name="customers", verbose_name=_("受理营业厅")
    )
    activated_at = models.DateTimeField(_("入网时间"))
    activated_on = models.DateField(_("入网日期"), db_index=True)
    product = models.CharField(_("付费方式"), max_length=16, choices=Product.choices)
    package = models.ForeignKey(
        "catalog.Package", on_delete=models.PROTECT, related_name="customers", verbose_name=_("套餐")
    )
    contract_plan = models.CharField(_("合约计划"), max_length=64, blank=True)
    previous_msisdn = models.CharField(_("原号码"), max_length=11, blank=True)
    number_changed = models.BooleanField(_("换号入网"), default=False)
    handset_os = models.CharField(_("手机系统"), max_length=16, blank=True)
    vip_tier = models.ForeignKey(
        "catalog.VipTier", on_delete=models.PROTECT, null=True, blank=True, related_name="customers",
        verbose_name=_("VIP等级"),
    )
    vip_rated_at = models.DateTimeField(_("VIP评级时间"), null=True, blank=True)
    vip_rated_on = models.DateField(_("VIP评级日期"), null=True, blank=True, db_index=True)
    first_month = models.CharField(_("首月资费"), max_length=16, choices=FirstMonth.choices, default=FirstMonth.FULL)
    marketing_opt_out = models.BooleanField(_("拒收营销短信"), default=False)
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="vip_customers",
        verbose_name=_("客户经理"),
    )
    manager_assigned_at = models.DateTimeField(_("客户经理分配时间"), null=True, blank=True)
    manager_assigned_on = models.DateField(_("客户经理分配日期"), null=True, blank=True, db_index=True)
    first_bill_at = models.DateTimeField(_("首次出账时间"), null=True, blank=True)
    first_bill_on = models.DateField(_("首次出账日期"), null=True, blank=True, db_index=True)
    status = models.CharField(_("状态"), max_length=16, choices=CustomerStatus.choices, default=CustomerStatus.ACTIVE)
    cancelled_at = models.DateTimeField(_("离网时间"), null=True, blank=True)
    created_at = RecordedAt(_("创建时间"), auto_now_add=True)
    # Every write stamps it (auto_now, or explicitly on bulk updates): the daily cycle looks at the customers
    # changed since the previous one (journeys.changes.Since), found through this index.
    updated_at = RecordedAt(_("更新时间"), auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("客户")
        verbose_name_plural = _("客户")
        indexes = [models.Index(fields=["city", "activated_on"])]

    def __str__(self) -> str:
        return self.masked_msisdn

    @property
    def is_vip(self) -> bool:
        return self.vip_tier_id is not None

    @property
    def masked_msisdn(self) -> str:
        return mask_msisdn(self.msisdn)

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)


class CustomerEvent(models.Model):
    """A fact that arrived about a customer (from BSS, an import, or the API), kept once per idempotency key."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="events", verbose_name=_("客户")
    )
    msisdn = models.CharField(_("号码"), max_length=11, db_index=True)
    type = models.CharField(_("类型"), max_length=32, choices=EventType.choices)
    at = models.DateTimeField(_("发生时间"))
    idempotency_key = models.CharField(_("幂等键"), max_length=128, unique=True)
    payload = models.JSONField(_("内容"), default=dict, blank=True)
    source = models.CharField(_("来源"), max_length=64, blank=True)
    received_at = RecordedAt(_("接收时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("客户事件")
        verbose_name_plural = _("客户事件")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.type} {self.msisdn} {self.at:%Y-%m-%d}"


class Bill(models.Model):
    """A monthly bill (账单) issued to a post-paid customer."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="bills", verbose_name=_("客户"))
    bill_month = models.CharField(_("账期"), max_length=7)  # YYYY-MM
    issued_at = models.DateTimeField(_("出账时间"))
    amount = models.DecimalField(_("金额(元)"), max_digits=10, decimal_places=2)

    class Meta:
        verbose_name = _("账单")
        verbose_name_plural = _("账单")
        constraints = [models.UniqueConstraint(fields=["customer", "bill_month"], name="customers_bill_month")]

    def __str__(self) -> str:
        return f"{self.customer} {self.bill_month} {self.amount}"


class CustomerChange(models.Model):
    """变更记录: one line for every write of a customer's row (and every journey started for one), appended in
    the same transaction by database triggers — an import, an event, the admin, the API, the cycle's own
    manager assignment alike, whatever code path wrote it.

    The daily cycle learns what changed from here, never from timestamps: it claims the lines no finished
    cycle has consumed (`consumed_by` = its CycleRun id, set in one statement at its start) and looks again
    at those customers' journeys. A cycle that dies leaves its lines to the next one. Lines consumed by
    finished cycles are pruned after a while (`journeys.changes.changes_prune`).
    """

    id = models.BigAutoField(primary_key=True)
    # Plain ids, not foreign keys: written by triggers, and the cycle run belongs to an app above this one.
    customer_id = models.BigIntegerField(_("客户"))
    consumed_by = models.BigIntegerField(_("处理的日处理"), null=True, blank=True)

    class Meta:
        verbose_name = _("客户变更记录")
        verbose_name_plural = _("客户变更记录")
        indexes = [models.Index(fields=["consumed_by", "customer_id"], name="customers_change_consumed")]

    def __str__(self) -> str:
        return f"{self.customer_id} → {self.consumed_by or '-'}"
