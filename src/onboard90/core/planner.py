"""Hints to the query planners, for conditions whose selectivity they misjudge (SQLite without statistics,
PostgreSQL on correlated conditions). The daily cycle's statements use them to say which condition should
drive a query: the few rows changed or due, never the million that are merely active.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import BooleanField, ExpressionWrapper, F, Func, IntegerField, Q


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


class _Among(Func):
    """`column = ANY(%s)` with the values as one array parameter on PostgreSQL; `IN (…)` elsewhere."""

    output_field = BooleanField()

    def __init__(self, field: str, values: list[int]):
        super().__init__(F(field))
        self.values = values

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        if not self.values:
            return "1 = 0", []
        return f"{column} IN ({', '.join(['%s'] * len(self.values))})", [*params, *self.values]

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return f"{column} = ANY(%s)", [*params, self.values]


def among(field: str, values: Iterable[int]) -> _Among:
    """`field` is one of `values` (ids, thousands of them), for `.filter(among(…))`. On PostgreSQL the list is
    one array parameter: Django's `__in` sends each value as a parameter of its own, and a list of 20,000
    ids then costs more to send and plan (2.4 s) than the rows it finds take to read (0.46 s as an array)."""
    return _Among(field, [int(v) for v in values])


class EpochDay(Func):
    """A date column as the number of days since 1970-01-01: read as a plain integer, not a date object per
    row (`datetime.date` built and parsed for every one of millions of day rows)."""

    output_field = IntegerField()

    def as_sql(self, compiler, connection, **extra):  # SQLite: julianday of 1970-01-01 is 2440587.5
        column, params = compiler.compile(self.source_expressions[0])
        return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)", params

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return f"({column} - DATE '1970-01-01')", params
