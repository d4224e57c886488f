"""Hints to the query planners, for conditions whose selectivity they misjudge (SQLite without statistics,
PostgreSQL on correlated conditions). The daily cycle's statements use them to say which condition should
drive a query: the few rows changed or due, never the million that are merely active.
"""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, Q


class _Likely(ExpressionWrapper):
    def __init__(self, q: Q, likely: bool = True, postgresql: bool = True):
        super().__init__(q, output_field=BooleanField())
        self.likely = likely
        self.postgresql = postgresql  # False: PostgreSQL gets the plain condition

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.expression)
        return f"likelihood({sql}, {0.99 if self.likely else 0.01})", params

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.expression)
        return (f"(({sql}) IS TRUE)", params) if self.likely and self.postgresql else (sql, params)


def broad(**conditions) -> list[_Likely]:
    """Conditions most rows meet (`status = 'active'` on journeys, an old anchor range): never the ones to
    drive the query; the date range or the id list beside them is.

    Without statistics SQLite takes any equality on an indexed column as selective, so it would walk every
    active journey (or every running action) instead of the handful that the date range or the id list
    picks out. `likelihood(…, 0.99)`, one per condition, tells it otherwise. PostgreSQL misjudges them
    too, in combination (an audience flag times an anchor range came out at 27 of 69 519 customers) and
    then walks the anchor's index: `(…) IS TRUE` keeps its estimate but no index can serve it. Other
    databases get the plain condition. Use as `.filter(*broad(status=…), …)`.
    """
    return [_Likely(Q(**{key: value})) for key, value in conditions.items()]


def broad_on_sqlite(**conditions) -> list[_Likely]:
    """`broad` for SQLite only: where PostgreSQL plans the query right from its statistics and the
    condition is part of the index key it probes by (an act's code beside its journey)."""
    return [_Likely(Q(**{key: value}), postgresql=False) for key, value in conditions.items()]


def narrow(**conditions) -> list[_Likely]:
    """The condition that picks the few rows (customers changed since the previous cycle): the one to drive
    the query. SQLite, without statistics, prices a one-sided range at a quarter of the table and would
    rather scan every journey; `likelihood(…, 0.01)` tells it otherwise. Other databases get it plain."""
    return [_Likely(Q(**{key: value}), likely=False) for key, value in conditions.items()]
