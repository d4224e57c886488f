"""What a contact attempt does to a task: the one rule both single and bulk completion follow."""

from __future__ import annotations

import datetime as dt

CLOSING_REACHED = ("reached", "refused")
RETRYABLE = ("no_answer", "busy")


def attempt_result(
    *, outcome: str, attempts_before: int, max_attempts: int, at: dt.datetime, due_at: dt.datetime
) -> tuple[str | None, str]:
    """(new status or None if the task stays open, reason) after one more attempt with `outcome`.

    Reached or refused closes the act as done (done_late past the due time); no answer or busy keeps it
    open until the attempts are spent, then it is missed (unreachable); a wrong number is missed at once.
    """
    if outcome in CLOSING_REACHED:
        return ("done" if at <= due_at else "done_late"), ""
    if outcome in RETRYABLE:
        if attempts_before + 1 < max_attempts:
            return None, ""
        return "missed", "unreachable"
    if outcome == "wrong_number":
        return "missed", "wrong_number"
    raise ValueError(f"unknown outcome {outcome!r}")
