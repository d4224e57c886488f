"""What a contact attempt does to a task, and when a completion may be entered: the rules both single
and bulk completion follow."""

from __future__ import annotations

import datetime as dt

from onboard90.core.operator_time import OPERATOR_TZ

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


class CompletionRefused(ValueError):
    """A completion whose claimed time cannot be true: before the task existed, or after it was entered."""


def completion_timing(
    *, claimed_at: dt.datetime, entered_at: dt.datetime, created_at: dt.datetime, grace: dt.timedelta
) -> bool:
    """Whether a completion claimed at `claimed_at` and entered at `entered_at` is backdated (补录).

    The work cannot have happened before the task existed nor after the moment it is being entered; a
    claim older than `grace` (yesterday's paper sheet from the counter is the ordinary case) is backdated:
    recorded, but marked, counted apart from on-time work, and only a supervisor may enter it.
    """
    if claimed_at > entered_at:
        raise CompletionRefused(
            f"完成时间 {_local(claimed_at)} 晚于当前时间 {_local(entered_at)} / the completion time "
            f"{_local(claimed_at)} is later than now ({_local(entered_at)})"
        )
    if claimed_at < created_at:
        raise CompletionRefused(
            f"完成时间 {_local(claimed_at)} 早于任务创建时间 {_local(created_at)} / the completion time "
            f"{_local(claimed_at)} is before the task existed ({_local(created_at)})"
        )
    return entered_at - claimed_at > grace


def _local(instant: dt.datetime) -> str:
    return instant.astimezone(OPERATOR_TZ).strftime("%Y-%m-%d %H:%M")


def may_act(
    *, role: str | None, active: bool, superuser: bool, user_id: int, user_city_id: int | None,
    user_unit_id: int | None, assignee_id: int | None, owner_unit_id: int, owner_city_id: int,
) -> bool:
    """Who may record work on a task: its assignee, staff of the owning unit while no one is assigned, the
    owning city's supervisor, or a province administrator. An inactive or role-less account may not."""
    if superuser or (active and role == "province_admin"):
        return True
    if role is None or not active:
        return False
    if assignee_id == user_id:
        return True
    if role == "supervisor":
        return user_city_id == owner_city_id
    return user_unit_id == owner_unit_id and assignee_id is None
