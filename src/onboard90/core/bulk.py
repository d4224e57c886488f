"""Row-by-key updates and plain inserts in one round of `executemany`, for the steps that must write
per-row values.

Django's `bulk_update` builds one `CASE WHEN id=… THEN …` per field per row, and `bulk_create` compiles
every value into one long statement, both costing more than the write itself; a prepared `UPDATE … WHERE
id = %s` or `INSERT … VALUES (%s, …)` executed for many parameter rows is what the drivers are fast at
(SQLite reuses the statement, psycopg pipelines it). `chunks` slices the long key lists of the other
set-based steps; `insert_select` and `insert_rows` are the set-based steps' own INSERT … SELECT.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet
from django.db.models.sql import UpdateQuery

T = TypeVar("T")


def chunks(items: Iterable[T], size: int = 2000) -> Iterator[Sequence[T]]:
    """`items` in slices of `size`: keeps an IN list under every backend's bound-parameter limit, and a long
    import's batch within memory (any iterable: a list is sliced, a stream of rows is read a slice at a time)."""
    if isinstance(items, Sequence):
        for start in range(0, len(items), size):
            yield items[start : start + size]
        return
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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


def update_rows(
    model: Any, fields: Sequence[str], rows: Iterable[Sequence[Any]], *, batch: int = 5000, key: str | None = None
) -> int:
    """UPDATE model SET fields… WHERE pk = row[0] for each row `(pk, value_of_field_1, …)`.

    Values are adapted by the model's own fields, so dates, datetimes and foreign keys (`*_id`
    or the relation's name) are written exactly as the ORM would write them. With `key` (a partition key,
    e.g. "customer"), each row is `(pk, key's value, value_of_field_1, …)` and the row is found by both: on a
    partitioned table the id alone would be looked up in every partition.
    """
    meta = model._meta
    targets = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(field.column)} = %s" for field in targets)
    where = [meta.pk] + ([meta.get_field(key)] if key else [])
    prepare = [_preparer(field) for field in targets] + [_preparer(f, save=False) for f in where]
    keyed = ([p(v) for p, v in zip(prepare, row, strict=True)] for row in _keys_last(rows, len(where)))
    if connection.vendor == "postgresql" and all(f.get_internal_type() in _ARRAYABLE for f in (*targets, *where)):
        return _update_from_arrays(meta, targets, where, keyed, batch)
    sql = f"UPDATE {quote(meta.db_table)} SET {sets} WHERE " + " AND ".join(f"{quote(f.column)} = %s" for f in where)
    return _execute_many(sql, keyed, batch)


# Fields whose values PostgreSQL takes as an array of their column's type (`_update_from_arrays`).
_ARRAYABLE = {
    *_AS_IS, "DateField", "DateTimeField", "DecimalField",
}


def _update_from_arrays(meta, targets: Sequence[Any], where: Sequence[Any], rows: Iterable[list[Any]], batch: int) -> int:
    """PostgreSQL: `batch` rows a statement, each column as one array (UPDATE … FROM unnest(…)), rather than
    one execution per row: a day's 18,000 SMS texts in ten statements. Each row is found by an index probe
    of its key; on a partitioned table, in its own partition only. A key given twice keeps its last values,
    as one execution per row would."""
    quote = connection.ops.quote_name
    columns = [*targets, *where]
    names = [f"c{i}" for i in range(len(columns))]
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in columns)
    sets = ", ".join(f"{quote(field.column)} = v.{name}" for field, name in zip(targets, names, strict=False))
    on = " AND ".join(
        f"t.{quote(field.column)} = v.{name}" for field, name in zip(where, names[len(targets) :], strict=True)
    )
    sql = f"UPDATE {quote(meta.db_table)} AS t SET {sets} FROM unnest({arrays}) AS v({', '.join(names)}) WHERE {on}"
    written = 0
    with connection.cursor() as cursor:
        for chunk in chunks(rows, batch):
            last = {tuple(row[len(targets) :]): row for row in chunk}
            cursor.execute(sql, [list(column) for column in zip(*last.values(), strict=True)])
            written += len(chunk)
    return written


def insert_values(
    model: Any, fields: Sequence[str], rows: Iterable[Sequence[Any]], *, ignore_conflicts: bool = False,
    unique_fields: Sequence[str] = (), update_fields: Sequence[str] = (), batch: int = 5000,
) -> int:
    """INSERT INTO model(fields) VALUES (row…) for each row, in one prepared statement executed for many
    rows: `bulk_create` for callers that need no ids back, at a fraction of its compiling. The columns not
    named take their database defaults (none here: name every column without one). `ignore_conflicts`
    skips rows that clash with a unique key (ON CONFLICT DO NOTHING); `update_fields` with `unique_fields`
    makes a clash on those update the row on file instead (an upsert, as `bulk_create(update_conflicts=True)`).
    Returns the rows handed over.
    """
    meta = model._meta
    targets = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in targets)
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({', '.join('%s' for _ in targets)})"
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    elif update_fields:
        keys = ", ".join(quote(meta.get_field(name).column) for name in unique_fields)
        updated = [quote(meta.get_field(name).column) for name in update_fields]
        sql += f" ON CONFLICT ({keys}) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in updated)
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


def _keys_last(rows: Iterable[Sequence[Any]], keys: int):
    for row in rows:
        yield (*row[keys:], *row[:keys])


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


def raw_rows(queryset: QuerySet) -> list[tuple]:
    """The rows of a `values_list` queryset as the driver returns them, without Django's converter per value:
    for integer columns read by the million (the surge window's day rows: a third of their read went in
    converting ints to ints). Only for columns the driver already returns as the Python type wanted."""
    try:
        sql, params = queryset.query.get_compiler(connection=connection).as_sql()
    except EmptyResultSet:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def update_returning(queryset: QuerySet, values: dict[str, Any], *, returning: Sequence[str]) -> list[tuple]:
    """`queryset.update(**values)`, and the `returning` columns of the rows it changed (UPDATE … RETURNING, on
    SQLite and PostgreSQL alike): exactly the rows this statement moved, not those a second read would find in
    their new state (some may have been there before it). Only for columns the driver returns as the Python
    type wanted (ids), as `raw_rows`."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    try:
        sql, params = query.get_compiler(connection=connection).as_sql()
    except EmptyResultSet:
        return []
    if not sql:
        return []
    cols = ", ".join(connection.ops.quote_name(queryset.model._meta.get_field(c).column) for c in returning)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {cols}", params)
        return cursor.fetchall()


def insert_select(model, columns: Sequence[str], queryset: QuerySet, *, skip_conflicts: bool = True) -> int:
    """INSERT INTO model(columns) SELECT … — `queryset` must be a values_list in the same column order.

    A queryset no row can match (an audience of `false`, e.g. a task not yet switched on) writes nothing.
    `skip_conflicts` as `insert_rows`.
    """
    try:
        sql, params = queryset.query.get_compiler(connection=connection).as_sql()
    except EmptyResultSet:
        return 0
    # The outer SELECT … WHERE 1=1 keeps SQLite from reading ON CONFLICT as part of a join.
    return insert_rows(
        model, columns, f"SELECT * FROM ({sql}) AS due WHERE 1=1", params, skip_conflicts=skip_conflicts
    )


def insert_rows(model, columns: Sequence[str], select: str, params: Sequence, *, skip_conflicts: bool = True) -> int:
    """INSERT INTO model(columns) `select`; the number of rows written.

    With `skip_conflicts` (ON CONFLICT DO NOTHING) a row whose unique key is on file, or being written by a
    transaction beside this one, is left out: a concurrent or repeated insert of the same key is harmless.
    Without it such a row fails the statement (IntegrityError): for a `select` that already leaves out the keys
    on file, whose caller would rather start over on the rare clash with a writer beside it than pay for the
    clause on every row — on PostgreSQL it makes each row a speculative insertion, probed and confirmed: a sixth of
    what the daily cycle's inserts cost at 1M journeys (docs/PERFORMANCE.md).

    A `select` with a join must end in a WHERE clause (SQLite would read ON CONFLICT as part of the join).
    """
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(model._meta.get_field(c).column) for c in columns)
    clause = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({cols}) {select}{clause}", params)
        return max(cursor.rowcount, 0)
