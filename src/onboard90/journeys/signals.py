"""What the engine reports to the apps above it (the figures), inside the transaction of the write.

The engine moves acts (staff work, corrections, a dialler's file) and runs the daily cycle; the dashboard's
figure cells follow both (`reporting`, connected in `reporting.apps`). The engine does not import the
figures: they sit above it and listen.
"""

from django.dispatch import Signal

# changes: list of (act id, status before, status after, was backdated, is backdated) — acts that staff
# work moved, sent inside the transaction that moved them, so the figures move with the work.
acts_moved = Signal()

# acts: list of (act id, customer id); before, after: ActionStatus — acts the engine moved in bulk, no staff
# involved: open → overdue with their task (`engine.mark_overdue`), running → missed at the journey's end
# (`engine.close_finished_journeys`). Sent inside the transaction that moved them, so the figures move with
# them rather than recounting every act of their (act, due time) groups, which for a closing cohort are
# ninety days old. Not a staff completion: no task.completed webhook.
acts_flipped = Signal()

# run: CycleRun; as_of: datetime; last_day: bool — a cycle's work is on file and it is about to finish (a
# receiver that raises fails the run). `last_day` is False for the earlier days of a catch-up over many days,
# whose figures the last day's replace.
cycle_finishing = Signal()

# The engine's news for the systems outside (the API's webhooks, `api.webhooks`), each sent inside the
# transaction of the write it reports. The cycle writes tasks and escalations in bulk, so they are told as a
# queryset of what the statement wrote (a receiver that wants them writes its rows from it with one INSERT …
# SELECT, never a loop per row); `at` is the instant of the write.
#
# tasks: QuerySet[Task] — tasks just created (the cycle's, a reply's follow-up, a manual assignment).
tasks_created = Signal()
# tasks: QuerySet[Task] — tasks the cycle just marked overdue (已超时).
tasks_overdue = Signal()
# escalations: QuerySet[Escalation] — escalations just created (an overdue task, no account manager).
escalations_created = Signal()
# journeys: QuerySet[Journey]; status: JourneyStatus — journeys that reached their last day (completed, sent
# before the statement that closes them, so the queryset still finds them) or whose customer left (exited).
journeys_closed = Signal()
