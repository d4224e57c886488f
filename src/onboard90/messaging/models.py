"""The SMS outbox: at most one message per opened action, never sent after its window."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from onboard90.core.masking import mask_msisdn
from onboard90.messaging.enums import Delivery, MessageClass, MessageStatus, Purpose, ReplyKind


class OutboxMessage(models.Model):
    """短信发件箱: a message the engine queued; the dispatcher claims, sends and records it."""

    # The engine's references are not checked by the database (see journeys.models.ENGINE_WRITTEN).
    # None for a message that answers the customer (an opt-out's confirmation), not an act of the plan.
    action = models.OneToOneField(
        "journeys.JourneyAction", on_delete=models.CASCADE, related_name="sms", verbose_name=_("服务动作"),
        db_constraint=False, null=True, blank=True,
    )
    # Database defaults on the columns added since the cycle's INSERT … SELECT was written: it names only its
    # own columns.
    purpose = models.CharField(
        _("用途"), max_length=32, choices=Purpose.choices, default=Purpose.ACT, db_default=Purpose.ACT
    )
    # A copy of action.journey.customer, for lookups by customer, written from it in the same statement.
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="messages", verbose_name=_("客户"),
        db_constraint=False,
    )
    msisdn = models.CharField(_("号码"), max_length=11)
    message_class = models.CharField(_("类别"), max_length=16, choices=MessageClass.choices)
    text = models.TextField(_("内容"), blank=True)
    segments = models.PositiveSmallIntegerField(_("条数"), default=0)
    status = models.CharField(_("状态"), max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    scheduled_at = models.DateTimeField(_("计划发送"))
    not_after = models.DateTimeField(_("最晚发送"))
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    gateway = models.CharField(_("网关"), max_length=32, blank=True)
    gateway_ref = models.CharField(_("网关编号"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    last_error = models.CharField(_("错误"), max_length=255, blank=True)
    # The gateway's delivery reports: the last state, when it was reported, and the SMS centre's own words.
    delivery = models.CharField(
        _("送达状态"), max_length=16, choices=Delivery.choices, blank=True, default="", db_default=""
    )
    delivery_at = models.DateTimeField(_("送达报告时间"), null=True, blank=True)
    delivery_detail = models.CharField(_("送达报告"), max_length=255, blank=True, default="", db_default="")
    created_at = models.DateTimeField(_("创建时间"))

    class Meta:
        verbose_name = _("短信")
        verbose_name_plural = _("短信")
        # With the id last, the dispatcher's next round (queued, due, in scheduled_at then id order) is the
        # head of the index: a day's messages share one scheduled_at, and PostgreSQL would otherwise sort
        # every message still queued to find each round's 200.
        indexes = [models.Index(fields=["status", "scheduled_at", "id"])]

    def __str__(self) -> str:
        return f"短信 {self.pk} → {mask_msisdn(self.msisdn)} {self.get_status_display()}"


class InboundMessage(models.Model):
    """上行短信: a customer's reply as the gateway passed it on, and what it was taken to mean.

    Kept whatever it says: an opt-out (TD/退订), a survey score, an answer to an offer, or anything else,
    which staff can list (`onboard90 replies --unmatched`).
    """

    msisdn = models.CharField(_("号码"), max_length=20, db_index=True)
    text = models.CharField(_("内容"), max_length=640)
    received_at = models.DateTimeField(_("接收时间"), db_index=True)
    gateway = models.CharField(_("网关"), max_length=32, blank=True)
    smsc = models.CharField(_("短信中心"), max_length=64, blank=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="replies",
        verbose_name=_("客户"),
    )
    kind = models.CharField(_("识别结果"), max_length=16, choices=ReplyKind.choices, default=ReplyKind.UNMATCHED)
    # The act the reply answered (a survey, an offer), when it answered one.
    action = models.ForeignKey(
        "journeys.JourneyAction", on_delete=models.SET_NULL, null=True, blank=True, related_name="replies",
        verbose_name=_("服务动作"), db_constraint=False,
    )
    score = models.PositiveSmallIntegerField(_("评分"), null=True, blank=True)

    class Meta:
        verbose_name = _("上行短信")
        verbose_name_plural = _("上行短信")
        indexes = [models.Index(fields=["kind", "received_at"])]

    def __str__(self) -> str:
        return f"上行 {self.pk} ← {mask_msisdn(self.msisdn)} {self.get_kind_display()}"

