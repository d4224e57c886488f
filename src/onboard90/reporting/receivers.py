"""How the dashboard's figures follow the engine (`journeys.signals`; connected in `reporting.apps`): staff work
and the engine's bulk flips (overdue, missed at a journey's end) move their cells in the write's own
transaction, and a finished cycle recounts the ones the rest of its work touched."""

from __future__ import annotations

import datetime as dt

# Every process imports this module as it starts (`reporting.apps`), the command line's included: the services
# the receivers call are imported when one is first called, so that a start-up does not pay for them (the
# engine, the figures' SQL).


def move_figure_cells(sender, *, changes, **kwargs) -> None:
    from onboard90.reporting.services import figure_cells_apply  # on first call: see above

    figure_cells_apply(changes=changes)


def move_flipped_cells(sender, *, acts, before: str, after: str, **kwargs) -> None:
    from onboard90.reporting.services import CellChange, figure_cells_apply  # on first call: see above

    figure_cells_apply(changes=[CellChange(pk, before, after, customer_id=customer) for pk, customer in acts])


def advance_figures_after_cycle(sender, *, as_of: dt.datetime, last_day: bool, **kwargs) -> None:
    from onboard90.reporting.services import figures_advance  # on first call: see above

    # A catch-up over many days (the demo's history, `run --until`) counts on its last day only, everything
    # the days since the last count touched at once.
    if last_day:
        figures_advance(as_of=as_of)
