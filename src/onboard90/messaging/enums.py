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
    # Handed over, but the gateway's answer never came (a timeout): it may have taken the message. Never sent
    # again; a delivery report settles it, or after RECONCILE the dispatcher records it failed (no report).
    UNCONFIRMED = "unconfirmed", _("待确认")
    FAILED = "failed", _("发送失败")
    MISSED = "missed", _("已过期未发")
    CANCELLED = "cancelled", _("已取消")


class Delivery(models.TextChoices):
    """送达状态: what the gateway's delivery reports (DLR) said of a sent message, the last one kept.

    Kannel's report types (its `%d`): 1 delivered, 2 not delivered, 4 queued at the SMS centre, 8 accepted by
    the SMS centre, 16 rejected by it. 4 and 8 are on the way and may be followed by 1 or 2; 1, 2 and 16 are
    final. A "not delivered" whose SMS centre reply says the validity period ran out is `expired`.
    """

    QUEUED = "queued", _("短信中心排队")
    ACCEPTED = "accepted", _("短信中心已接收")
    DELIVERED = "delivered", _("已送达")
    FAILED = "failed", _("未送达")
    EXPIRED = "expired", _("已过期")
    REJECTED = "rejected", _("被拒收")


# Reports after which nothing more is expected: a later "on the way" report does not move a message back.
FINAL_DELIVERY = (Delivery.DELIVERED, Delivery.FAILED, Delivery.EXPIRED, Delivery.REJECTED)


class ReplyKind(models.TextChoices):
    """What a customer's reply (上行短信) was taken to mean."""

    OPT_OUT = "opt_out", _("退订")
    SURVEY_SCORE = "survey_score", _("满意度评分")
    OFFER_ACCEPTED = "offer_accepted", _("接受推荐")
    UNMATCHED = "unmatched", _("未识别")


class Purpose(models.TextChoices):
    """Why a message exists: an act of the plan, a data-surge alert (the plan's too, but one that can go
    several times a journey, so it hangs off the customer's `usage.SurgeAlert`, not an act), or an answer to
    the customer's own reply. The alert's value is its act's code, so the SMS figures list it under it."""

    ACT = "act", _("服务动作")
    DATA_SURGE_ALERT = "data_surge_alert", _("流量突增提醒")
    OPT_OUT_CONFIRMATION = "opt_out_confirmation", _("退订确认")


# The plan's own messages: the playbook's daily cap (`sms_daily_limit`) counts and holds these, not the
# answers to a customer's reply.
PLAN_PURPOSES = (Purpose.ACT, Purpose.DATA_SURGE_ALERT)


# Messages that have not left: what an act that ends (the customer left, a VIP supersede, the journey's end)
# cancels. In flight (`sending`) included: a live dispatcher that did send one records it sent all the same,
# and a crashed one's recovery then finds it settled instead of sending it for an act that is over.
UNSENT = (MessageStatus.QUEUED, MessageStatus.SENDING)

