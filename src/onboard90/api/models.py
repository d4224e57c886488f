"""The API's own records: the keys of the system accounts (BSS, CRM, CTI) and the answers kept for
idempotent requests."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from onboard90.core.fields import RecordedAt


class ScopeKind(models.TextChoices):
    """What a key reaches: the same units of scope as a staff member's (`org.scoping`)."""

    PROVINCE = "province", _("全省")
    CITY = "city", _("地市")
    UNIT = "unit", _("单位")


class ApiKey(models.Model):
    """接口密钥: a system account's key. Shown once when created (`ob90_<prefix>_<secret>`); only the prefix
    (to find the row) and the SHA-256 of the secret are kept, so a copy of the database opens nothing.

    The account (`account`) is a user without a password or a staff profile: what the key does is done and
    audited in its name (`api:<name>`), and no page, list or engine rule ever takes it for a person.
    """

    name = models.SlugField(_("系统账号"), max_length=48)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_keys", verbose_name=_("账号")
    )
    prefix = models.CharField(_("前缀"), max_length=16, unique=True)
    secret_hash = models.CharField(_("密钥摘要"), max_length=64)
    scope = models.CharField(_("范围"), max_length=16, choices=ScopeKind.choices)
    city = models.ForeignKey(
        "org.City", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("地市")
    )
    unit = models.ForeignKey(
        "org.Unit", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("单位")
    )
    created_at = RecordedAt(_("创建时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("创建人"),
    )
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)

    class Meta:
        verbose_name = _("接口密钥")
        verbose_name_plural = _("接口密钥")
        ordering = ["name", "-created_at"]
        constraints = [
            # One live key per system account: a new one after the old is revoked (rotation).
            models.UniqueConstraint(
                fields=["name"], condition=Q(revoked_at__isnull=True), name="api_key_one_live"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"


class IdempotencyRecord(models.Model):
    """幂等记录: the first answer to a request (or to one event of a batch) sent under an idempotency key,
    kept so that a replay gets it back unchanged and changes nothing, and a different request under the
    same key is told so. Per account: two systems may choose the same key without meeting."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("账号")
    )
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("接口密钥")
    )
    key = models.CharField(_("幂等键"), max_length=200)
    fingerprint = models.CharField(_("请求摘要"), max_length=64)
    status = models.PositiveSmallIntegerField(_("响应状态"))
    body = models.JSONField(_("响应内容"))
    created_at = RecordedAt(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("幂等记录")
        verbose_name_plural = _("幂等记录")
        constraints = [models.UniqueConstraint(fields=["account", "key"], name="api_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.key} → {self.status}"


class WebhookEventType(models.TextChoices):
    """What a subscriber can be told (事件通知)."""

    TASK_CREATED = "task.created", _("任务创建")
    TASK_OVERDUE = "task.overdue", _("任务超时")
    TASK_COMPLETED = "task.completed", _("任务完成")
    JOURNEY_COMPLETED = "journey.completed", _("旅程结束")
    JOURNEY_EXITED = "journey.exited", _("旅程退出")
    SMS_FAILED = "sms.failed", _("短信发送失败")
    ESCALATION_CREATED = "escalation.created", _("升级")


class WebhookSubscription(models.Model):
    """事件订阅: a system account's URL for the events it wants. The secret signs every delivery (HMAC-SHA256);
    it is shown once when the subscription is made and kept, since signing needs it (unlike a key's secret,
    which is only compared, and so only its digest is kept).

    What the account reaches is its live key's scope: a 青岛 key is told of 青岛's tasks only, and an
    account without a live key (revoked) is told nothing until it has one again.
    """

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="webhooks",
        verbose_name=_("系统账号"),
    )
    url = models.URLField(_("地址"), max_length=500)
    event_types = models.JSONField(_("事件类型"), default=list)
    secret = models.CharField(_("签名密钥"), max_length=64)
    active = models.BooleanField(_("有效"), default=True)
    created_at = RecordedAt(_("创建时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("创建人"),
    )
    removed_at = models.DateTimeField(_("停用时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("事件订阅")
        verbose_name_plural = _("事件订阅")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.account} → {self.url}"


class WebhookStatus(models.TextChoices):
    PENDING = "pending", _("待投递")
    DELIVERED = "delivered", _("已投递")
    FAILED = "failed", _("投递失败")


class WebhookEvent(models.Model):
    """事件通知 (the webhooks' outbox): one event for one subscription, written in the transaction of the change
    it reports (a task made, an act closed…), delivered afterwards by `onboard90 webhooks deliver` and
    retried until the receiver answers 2xx or the attempts are spent. Its id is the delivery's id: sent again
    after a failure, it carries the same id and the same body, so a receiver drops what it already has.

    `data` is the object as it stood at the first attempt (the cycle writes its events set-based, with the
    object's id only); from then on every attempt sends the same body."""

    id = models.BigAutoField(primary_key=True)
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="events", verbose_name=_("订阅")
    )
    event_type = models.CharField(_("事件类型"), max_length=32, choices=WebhookEventType.choices)
    object_id = models.BigIntegerField(_("对象编号"))
    occurred_at = models.DateTimeField(_("发生时间"))
    data = models.JSONField(_("内容"), null=True, blank=True)
    status = models.CharField(
        _("状态"),
        max_length=16,
        choices=WebhookStatus.choices,
        default=WebhookStatus.PENDING,
        db_default="pending",
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0, db_default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"))
    delivered_at = models.DateTimeField(_("投递时间"), null=True, blank=True)
    last_error = models.CharField(_("最近错误"), max_length=255, blank=True, default="", db_default="")

    class Meta:
        verbose_name = _("事件通知")
        verbose_name_plural = _("事件通知")
        constraints = [
            # Once per subscription, event and object: a receiver that runs twice writes nothing twice.
            models.UniqueConstraint(
                fields=["subscription", "event_type", "object_id"], name="api_webhook_event_once"
            ),
        ]
        indexes = [
            # The deliverer reads the pending events that are due, oldest first; partial, so delivered ones
            # (nearly all) leave it.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status="pending"),
                name="api_webhook_event_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.object_id} → {self.subscription_id}"


class WebhookAttempt(models.Model):
    """投递记录: one attempt to deliver an event — when, the answer's status (none: no answer) and why it failed."""

    event = models.ForeignKey(
        WebhookEvent, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("事件通知")
    )
    number = models.PositiveSmallIntegerField(_("第几次"))
    at = models.DateTimeField(_("时间"))
    status_code = models.PositiveSmallIntegerField(_("响应状态"), null=True, blank=True)
    ok = models.BooleanField(_("成功"))
    error = models.CharField(_("错误"), max_length=255, blank=True)
    duration_ms = models.PositiveIntegerField(_("耗时(毫秒)"), default=0)

    class Meta:
        verbose_name = _("投递记录")
        verbose_name_plural = _("投递记录")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_id} #{self.number} {self.status_code or '-'}"
