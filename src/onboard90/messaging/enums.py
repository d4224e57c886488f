"""Outbox states and message classes."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class MessageClass(models.TextChoices):
    SERVICE = "service", _("服务类")
    MARKETING = "marketing", _("营销类")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("待发送")
    # Claimed by a dispatcher and handed to the gateway; a crash can leave it here (see outbox_recover).
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")
    MISSED = "missed", _("已过期未发")
    CANCELLED = "cancelled", _("已取消")


# Messages that have not left: what an act that ends (the customer left, a VIP supersede, the journey's end)
# cancels. In flight (`sending`) included: a live dispatcher that did send one records it sent all the same,
# and a crashed one's recovery then finds it settled instead of sending it for an act that is over.
UNSENT = (MessageStatus.QUEUED, MessageStatus.SENDING)

