"""Row-by-key updates in one round of `executemany`, for the few steps that must write per-row values.

Django's `bulk_update` builds one `CASE WHEN id=… THEN …` per field per row, which costs more to compile
than the write itself; a prepared `UPDATE … WHERE id = %s` executed for many parameter rows is what the
drivers are fast at (SQLite reuses the statement, psycopg pipelines it). `chunks` slices the long
key lists of the other set-based steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection


def chunks(items: Sequence[Any], size: int = 2000):
    """`items` in slices of `size`: keeps an IN list under every backend's bound-parameter limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
    pk_field = meta.pk
    written = 0
    chunk: list[list[Any]] = []

    def flush() -> None:
        nonlocal written
        if chunk:
            with connection.cursor() as cursor:
                cursor.executemany(sql, chunk)
            written += len(chunk)
            chunk.clear()

    for row in rows:
        pk, *values = row
        params = [field.get_db_prep_save(value, connection) for field, value in zip(targets, values, strict=True)]
        params.append(pk_field.get_db_prep_value(pk, connection))
        chunk.append(params)
        if len(chunk) >= batch:
            flush()
    flush()
    return written
