"""Django app config for `reporting`: the management dashboard's precomputed figures (管理看板)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from onboard90.journeys.signals import acts_flipped, acts_moved, cycle_finishing


class ReportingConfig(AppConfig):
    name = "onboard90.reporting"
    label = "reporting"
    verbose_name = _("管理看板")

    def ready(self) -> None:
        # The figures follow the engine (reporting.receivers); it sits below them and never imports them.
        from onboard90.reporting import receivers  # in ready(): connected once the apps are loaded

        acts_moved.connect(receivers.move_figure_cells, dispatch_uid="reporting.cells")
        acts_flipped.connect(receivers.move_flipped_cells, dispatch_uid="reporting.flipped")
        cycle_finishing.connect(receivers.advance_figures_after_cycle, dispatch_uid="reporting.rebuild")
