"""The record that a customer received their booklet 《3G客户常用服务指南》 (递交记录).

Three of stage 1's notices reach the customer through the booklet alone (its `deliveries` name "guide"):
without a record of the hand-over nobody can tell whether they were given. The record says when, who (or
which feed), and which acts of the customer's journey it delivered, as the playbook defined them then.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class BookletHandover(models.Model):
    """递交记录: one hand-over of the booklet to a customer (a reprint after a loss is another one)."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="booklet_handovers", verbose_name=_("客户")
    )
    # When the booklet changed hands (claimed, bounded: not in the future, not before activation) and the
    # real instant it was entered; as with a task's completion, the two are kept side by side.
    handed_at = models.DateTimeField(_("递交时间"))
    entered_at = models.DateTimeField(_("录入时间"))
    handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("递交人"),
    )
    # The username of `handed_over_by`, or the feed (a store system, a batch) that reported the hand-over
    # when no person is named: who it was stays readable after the account is gone.
    handed_over_label = models.CharField(_("递交人/来源"), max_length=64)
    # The codes of the acts whose `deliveries` include "guide" and whose audience holds for the customer,
    # in the playbook version of their journey ([] without a journey).
    journey_action_codes = models.JSONField(_("交付的服务动作"), default=list, blank=True)

    class Meta:
        verbose_name = _("服务指南递交记录")
        verbose_name_plural = _("服务指南递交记录")
        ordering = ["-handed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.customer} {self.handed_at:%Y-%m-%d %H:%M} {self.handed_over_label}"
