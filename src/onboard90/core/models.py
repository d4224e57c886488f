"""Cross-cutting records: the audit log of every change a person (or the system on their behalf) made."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from onboard90.core.fields import RecordedAt


class AuditEntry(models.Model):
    """审计日志: who changed what, when, with the old and new values."""

    # The real instant the entry was written, never a time someone claims (that is `claimed_at`).
    at = models.DateTimeField(_("时间"), db_index=True)
    claimed_at = models.DateTimeField(_("声称时间"), null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("操作者账号"),
    )
    actor_label = models.CharField(_("操作者"), max_length=150)
    # Where the act came from: the channel (web, cli, …) and, for the web, the client's address.
    channel = models.CharField(_("渠道"), max_length=16, blank=True, db_default="")
    remote_addr = models.GenericIPAddressField(_("来源地址"), null=True, blank=True)
    verb = models.CharField(_("动作"), max_length=64, db_index=True)
    object_type = models.CharField(_("对象类型"), max_length=64)
    object_id = models.CharField(_("对象"), max_length=64, blank=True)
    before = models.JSONField(_("修改前"), null=True, blank=True)
    after = models.JSONField(_("修改后"), null=True, blank=True)

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.verb} {self.object_type}#{self.object_id}"


class ScratchDatabase(models.Model):
    """演练库: this database holds simulated history (the demo, a benchmark, a test), not an operator's data.

    Only a database with this row accepts a simulated clock (`core.clock.simulated`, `ONBOARD90_CLOCK`):
    production's clock is the real one, so its figures cannot be produced ahead of time. The demo and the
    bench write it on the database they build; `onboard90 init --scratch` writes it by hand.
    """

    purpose = models.CharField(_("用途"), max_length=32)
    marked_at = RecordedAt(_("标记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("演练库标记")
        verbose_name_plural = _("演练库标记")

    def __str__(self) -> str:
        return f"{self.purpose} {self.marked_at:%Y-%m-%d %H:%M}"
