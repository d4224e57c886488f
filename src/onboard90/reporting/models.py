"""Precomputed compliance figures: the counts of acts per city, store, act and due time.

A province has millions of acts; the dashboard must not count them on every request. The cells are
counted from the acts once in one INSERT … SELECT … GROUP BY (`services.figures_rebuild`); after that
each daily cycle recounts only the cells its day's work touched (`services.figures_advance`), and staff
work between cycles moves single acts from one count to another in the same transaction as the work
itself (`services.figure_cells_apply`). The figures read from them are those of
`journeys.selectors.compliance_report`, by the same definitions (`journeys.selectors.figures`).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class FigureCell(models.Model):
    """统计单元: the acts of one (customer's city, customer's store, act, stage, due time), counted by outcome.

    `open` and `overdue` are the acts still running by their recorded status; a reader counts the `open`
    ones whose due time has passed as overdue, as the compliance report does, so a cell stays right
    between the cycle that built it and the next one. `window_end` is kept only for acts without a due
    time (the date range then reads it, as the report does).

    No unique key: a cell that a completion had to create while another did the same is simply two rows
    of the same key, and every reader sums them.
    """

    # References without database constraints: the rows are rebuilt wholesale every day.
    city = models.ForeignKey(
        "org.City", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False,
        verbose_name=_("地市"),
    )
    store = models.ForeignKey(
        "org.Unit", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False,
        null=True, blank=True, verbose_name=_("营业厅"),
    )
    action_code = models.CharField(_("动作"), max_length=48)
    stage = models.PositiveSmallIntegerField(_("阶段"))
    due_at = models.DateTimeField(_("截止时间"), null=True, blank=True)
    window_end = models.DateField(_("窗口结束"), null=True, blank=True)
    done = models.IntegerField(_("按时"), default=0)
    done_late = models.IntegerField(_("超时完成"), default=0)
    backdated = models.IntegerField(_("补录"), default=0)
    missed = models.IntegerField(_("未完成"), default=0)
    open = models.IntegerField(_("进行中"), default=0)
    overdue = models.IntegerField(_("已超时"), default=0)

    class Meta:
        verbose_name = _("统计单元")
        verbose_name_plural = _("统计单元")
        indexes = [
            # A city's cells over a date range (a supervisor's page, a completion's cell).
            models.Index(fields=["city", "due_at"], name="reporting_cell_city_due"),
            # The province's cells over a date range.
            models.Index(fields=["due_at"], name="reporting_cell_due"),
        ]

    def __str__(self) -> str:
        return f"{self.action_code} @ {self.city_id}/{self.store_id} {self.due_at}"


class FigureRefresh(models.Model):
    """One count of the cells — every cell (a rebuild) or the ones a cycle touched (an advance): as of when,
    when it ran, how long it took, how many cells it wrote, and up to which act it counted.

    `acts_upto` is the highest act id counted: the acts above it are the ones opened since, which the next
    advance counts, and a completion of one of them waits for that count (`figure_cells_apply`).
    """

    as_of = models.DateTimeField(_("业务时间"))
    started_at = models.DateTimeField(_("开始"))
    seconds = models.FloatField(_("用时(秒)"))
    cells = models.PositiveIntegerField(_("单元数"))
    full = models.BooleanField(_("全量重算"), default=True)
    acts_upto = models.BigIntegerField(_("已计入的服务动作"), null=True, blank=True)

    class Meta:
        verbose_name = _("统计重算记录")
        verbose_name_plural = _("统计重算记录")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.as_of} ({self.cells})"


class CustomerMove(models.Model):
    """A customer whose city or store changed (迁移): their acts count in another cell from now on.

    Written by a database trigger on the customer's row (see the migration) whatever wrote it — an import,
    the admin, outside SQL — and read by the next advance of the cells, which recounts these customers'
    cells and then deletes the lines. Nothing else in the figures follows a customer's place.
    """

    id = models.BigAutoField(primary_key=True)
    customer_id = models.BigIntegerField(_("客户"))

    class Meta:
        verbose_name = _("客户迁移记录")
        verbose_name_plural = _("客户迁移记录")

    def __str__(self) -> str:
        return str(self.customer_id)
