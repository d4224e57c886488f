"""Published versions of the playbook (服务方案): the validated YAML document, frozen per version."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PlaybookVersion(models.Model):
    """One published version. Journeys keep the version they started with; the newest is current."""

    number = models.PositiveIntegerField(_("版本号"), unique=True)
    name = models.CharField(_("名称"), max_length=128)
    document = models.JSONField(_("内容"))  # the validated playbook, as the schema dumps it
    checksum = models.CharField(_("校验和"), max_length=64, db_index=True)
    source = models.CharField(_("来源文件"), max_length=255, blank=True)
    published_at = models.DateTimeField(_("发布时间"))
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("发布人"),
    )

    class Meta:
        verbose_name = _("服务方案版本")
        verbose_name_plural = _("服务方案版本")
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"v{self.number} {self.name}"


class PlaybookStage(PlaybookVersion):
    """阶段: the admin's entry for the stages of the current version. No rows of its own — stages live inside
    the version's document; the admin shows them from it and an edit publishes a new version."""

    class Meta:
        proxy = True
        verbose_name = _("阶段")
        verbose_name_plural = _("阶段")


class PlaybookAct(PlaybookVersion):
    """服务动作: the admin's entry for the acts of the current version (same as PlaybookStage)."""

    class Meta:
        proxy = True
        verbose_name = _("服务动作")
        verbose_name_plural = _("服务动作")
