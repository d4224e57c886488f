"""How the dashboard's figures follow the engine (`journeys.signals`; connected in `reporting.apps`): staff work
moves its cells in the work's own transaction, and a finished cycle recounts the ones its work touched."""

from __future__ import annotations

import datetime as dt

from onboard90.reporting.services import figure_cells_apply, figures_advance


def move_figure_cells(sender, *, changes, **kwargs) -> None:
    figure_cells_apply(changes=changes)


def advance_figures_after_cycle(sender, *, as_of: dt.datetime, last_day: bool, **kwargs) -> None:
    # A catch-up over many days (the demo's history, `run --until`) counts on its last day only, everything
    # the days since the last count touched at once.
    if last_day:
        figures_advance(as_of=as_of)
