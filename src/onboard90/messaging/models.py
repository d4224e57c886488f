"""The SMS outbox: at most one message per opened action, never sent after its window."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from onboard90.core.masking import mask_msisdn
from onboard90.messaging.enums import MessageClass, MessageStatus


class OutboxMessage(models.Model):
    """短信发件箱: a message the engine queued; the dispatcher claims, sends and records it."""

    # The engine's references are not checked by the database (see journeys.models.ENGINE_WRITTEN).
    action = models.OneToOneField(
        "journeys.JourneyAction", on_delete=models.CASCADE, related_name="sms", verbose_name=_("服务动作"),
        db_constraint=False,
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
