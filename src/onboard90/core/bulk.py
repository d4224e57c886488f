"""Row-by-key updates and plain inserts in one round of `executemany`, for the steps that must write
per-row values.

Django's `bulk_update` builds one `CASE WHEN id=… THEN …` per field per row, and `bulk_create` compiles
every value into one long statement, both costing more than the write itself; a prepared `UPDATE … WHERE
id = %s` or `INSERT … VALUES (%s, …)` executed for many parameter rows is what the drivers are fast at
(SQLite reuses the statement, psycopg pipelines it). `chunks` slices the long key lists of the other
set-based steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection


def chunks(items: Sequence[Any], size: int = 2000):
    """`items` in slices of `size`: keeps an IN list under every backend's bound-parameter limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Fields whose values of these exact types reach the driver unchanged: their own adaptation only checks
# them and gives them back, at a few microseconds a value (a tenth of a per-row write on SQLite).
_AS_IS = {
    **dict.fromkeys(("CharField", "TextField", "SlugField", "EmailField"), (str,)),
    **dict.fromkeys(
        (
            "IntegerField", "SmallIntegerField", "BigIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField",
            "PositiveBigIntegerField", "AutoField", "BigAutoField", "ForeignKey", "OneToOneField",
        ),
        (int,),
    ),
    "BooleanField": (bool,),
}


def _preparer(field, *, save: bool = True):
    """value -> database parameter, exactly as the ORM adapts it for `field`."""
    adapt = field.get_db_prep_save if save else field.get_db_prep_value
    as_is = _AS_IS.get(field.get_internal_type(), ())

    def prepare(value):
        if value is None or type(value) in as_is:
            return value
        return adapt(value, connection)

    return prepare


def update_rows(model: Any, fields: Sequence[str], rows: Iterable[Sequence[Any]], *, batch: int = 5000) -> int:
    """UPDATE model SET fields… WHERE pk = row[0] for each row `(pk, value_of_field_1, …)`.

    Values are adapted by the model's own fields, so dates, datetimes and foreign keys (`*_id`
    or the relation's name) are written exactly as the ORM would write them.
    """
    meta = model._meta
    targets = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(field.column)} = %s" for field in targets)
    sql = f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(meta.pk.column)} = %s"
    prepare = [_preparer(field) for field in targets] + [_preparer(meta.pk, save=False)]
    return _execute_many(sql, ([p(v) for p, v in zip(prepare, row, strict=True)] for row in _pk_last(rows)), batch)


def insert_values(
    model: Any, fields: Sequence[str], rows: Iterable[Sequence[Any]], *, ignore_conflicts: bool = False,
    batch: int = 5000,
) -> int:
    """INSERT INTO model(fields) VALUES (row…) for each row, in one prepared statement executed for many
    rows: `bulk_create` for callers that need no ids back, at a fraction of its compiling. The columns not
    named take their database defaults (none here: name every column without one). `ignore_conflicts`
    skips rows that clash with a unique key (ON CONFLICT DO NOTHING). Returns the rows handed over.
    """
    meta = model._meta
    targets = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in targets)
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({', '.join('%s' for _ in targets)})"
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    prepare = [_preparer(field) for field in targets]
    return _execute_many(sql, ([p(v) for p, v in zip(prepare, row, strict=True)] for row in rows), batch)


def insert_objects(model: Any, objects: Iterable[Any], *, ignore_conflicts: bool = False, batch: int = 5000) -> int:
    """`insert_values` for unsaved model instances: every concrete field but the id, filled as `bulk_create`
    fills them (`pre_save`: auto_now stamps; defaults were set when the instance was made)."""
    targets = [field for field in model._meta.concrete_fields if not field.primary_key]

    def row(obj) -> list[Any]:
        # As bulk_create: a relation set to an object saved since (a customer created in the same batch)
        # gives its id now; one still unsaved is refused.
        obj._prepare_related_fields_for_save(operation_name="insert_objects")
        return [field.pre_save(obj, True) for field in targets]

    return insert_values(
        model, [field.name for field in targets], map(row, objects), ignore_conflicts=ignore_conflicts, batch=batch
    )


def _pk_last(rows: Iterable[Sequence[Any]]):
    for pk, *values in rows:
        yield (*values, pk)


def _execute_many(sql: str, params: Iterable[list[Any]], batch: int) -> int:
    written = 0
    chunk: list[list[Any]] = []
    with connection.cursor() as cursor:
        for row in params:
            chunk.append(row)
            if len(chunk) >= batch:
                cursor.executemany(sql, chunk)
                written += len(chunk)
                chunk.clear()
        if chunk:
            cursor.executemany(sql, chunk)
            written += len(chunk)
    return written
