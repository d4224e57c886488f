"""How the dashboard's figures follow the engine (`journeys.signals`; connected in `reporting.apps`): staff work
moves its cells in the work's own transaction, and a finished cycle rebuilds them all."""

from __future__ import annotations

import datetime as dt

from onboard90.reporting.services import figure_cells_apply, figures_rebuild


def move_figure_cells(sender, *, changes, **kwargs) -> None:
    figure_cells_apply(changes=changes)


def rebuild_figures_after_cycle(sender, *, as_of: dt.datetime, last_day: bool, **kwargs) -> None:
    # A catch-up over many days (the demo's history, `run --until`) rebuilds on its last day only: each
    # rebuild replaces the one before.
    if last_day:
        figures_rebuild(as_of=as_of)
