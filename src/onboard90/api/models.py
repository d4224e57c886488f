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
