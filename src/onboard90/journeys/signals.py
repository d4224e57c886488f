"""What the engine reports to the apps above it (the figures), inside the transaction of the write.

The engine moves acts (staff work, corrections, a dialler's file) and runs the daily cycle; the dashboard's
figure cells follow both (`reporting`, connected in `reporting.apps`). The engine does not import the
figures: they sit above it and listen.
"""

from django.dispatch import Signal

# changes: list of (act id, status before, status after, was backdated, is backdated) — acts that staff
# work moved, sent inside the transaction that moved them, so the figures move with the work.
acts_moved = Signal()

# run: CycleRun; as_of: datetime; last_day: bool — a cycle's work is on file and it is about to finish (a
# receiver that raises fails the run). `last_day` is False for the earlier days of a catch-up over many days,
# whose figures the last day's replace.
cycle_finishing = Signal()
