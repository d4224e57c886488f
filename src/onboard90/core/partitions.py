"""PostgreSQL's declarative partitioning of the per-customer rows that grow with every day's cycle (分区).

The act, task and message tables are partitioned by RANGE of `customer_id`. Customer ids follow arrival (a
daily load assigns them), so a range of ids is a span of activation days: with the default of 250,000 ids a
range holds about a month of a province's new customers, and its rows stop changing about 90 days after the
last of them arrived. Such a range can then be detached whole (and archived or dropped by the operator)
instead of deleted row by row. The partition key is also the key Citus would distribute these tables by
(docs/SCALING.md), so a unique key that holds it serves both.

Each partitioned table has a DEFAULT partition, so a row never fails for want of a range; `partitions_ensure`
(`onboard90 partitions`, and daily on the workers) keeps the ranges a block ahead of the newest customer,
moving into a new range any rows the default partition caught. SQLite keeps the same tables unpartitioned:
everything here is a no-op there.

Why ranges of ids and not of activation months: the month would be one more column on every row, and every
statement that reads or updates a row by id would have to carry it to reach one partition; the customer id is
already on every row (it is the distribution key), and it prunes as well.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

KEY = "customer_id"
_BOUNDS = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


@dataclass(frozen=True)
class Partition:
    table: str  # the partitioned table
    name: str  # the partition
    low: int | None  # customer ids from (None: the DEFAULT partition)
    high: int | None  # to, not included
    rows: int  # the planner's estimate (reltuples), not a count


def customers_between(rows: Sequence[tuple[int, int]]) -> Q:
    """The customer-id range of `rows` ((id, customer id) pairs) as a condition. Said beside a list of ids,
    it lets PostgreSQL plan for the partitions of that range only (a list of customer ids would cost more to
    plan than it saves); on SQLite it only repeats what the ids say. Sort the rows by customer before cutting
    them into lists, so each list's range is narrow."""
    customers = [customer for _pk, customer in rows]
    return Q(customer_id__gte=min(customers), customer_id__lte=max(customers)) if customers else Q()


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def partition_by_customer(schema_editor, table: str, *, newest: int, size: int | None = None) -> None:
    """Rebuild `table` as a table partitioned by RANGE (customer_id), its rows, defaults, checks, foreign keys
    and indexes kept; its primary key becomes (id, customer_id) and every unique key gets customer_id (a
    partitioned table's unique keys must hold its partition key), with ranges a block past customer id
    `newest`. For a migration; a no-op but on PostgreSQL."""
    if schema_editor.connection.vendor != "postgresql":
        return
    size = size or settings.ONBOARD90["PARTITION_CUSTOMERS"]
    flat = f"{table}__flat"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f') ORDER BY contype, conname",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [table])
        options = cursor.fetchone()[0] or []  # fillfactor: a partitioned table has no storage of its own
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s",
            [table],
        )
        owned = {name for name, _kind, _definition in constraints}
        indexes = [(name, definition) for name, definition in cursor.fetchall() if name not in owned]
        cursor.execute(f"ALTER TABLE {_quote(table)} RENAME TO {_quote(flat)}")
        for name, _kind, _definition in constraints:  # their names are free for the new table's
            cursor.execute(f"ALTER TABLE {_quote(flat)} DROP CONSTRAINT {_quote(name)}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {_quote(name)}")
        cursor.execute(
            f"CREATE TABLE {_quote(table)} (LIKE {_quote(flat)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
            f"PARTITION BY RANGE ({KEY})"
        )
        cursor.execute(f"CREATE TABLE {_quote(table + '_default')} PARTITION OF {_quote(table)} DEFAULT")
        if options:  # the DEFAULT partition keeps them for the ranges added later (`_add_ranges`)
            cursor.execute(f"ALTER TABLE {_quote(table + '_default')} SET ({', '.join(options)})")
        _add_ranges(cursor, table, upto=newest + size, size=size)
        cursor.execute(f"INSERT INTO {_quote(table)} SELECT * FROM {_quote(flat)}")
        cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {_quote(flat)}")
        (top,) = cursor.fetchone()
        cursor.execute(f"DROP TABLE {_quote(flat)}")  # and the identity sequence it owned
        # An identity column cannot be partitioned before PostgreSQL 17: a sequence the column owns instead
        # (pg_get_serial_sequence finds it, as Django's sequence resets do).
        sequence = f"{table}_id_seq"
        cursor.execute(f"CREATE SEQUENCE {_quote(sequence)} OWNED BY {_quote(table)}.id")
        cursor.execute(f"ALTER TABLE {_quote(table)} ALTER COLUMN id SET DEFAULT nextval(%s)", [sequence])
        cursor.execute("SELECT setval(%s, %s, %s)", [sequence, max(top, 1), top > 0])
        for name, kind, definition in constraints:
            if kind in ("p", "u"):
                definition = with_key(definition)
            cursor.execute(f"ALTER TABLE {_quote(table)} ADD CONSTRAINT {_quote(name)} {definition}")
        for _name, definition in indexes:
            cursor.execute(with_key(definition) if " UNIQUE INDEX " in definition else definition)


def with_key(definition: str) -> str:
    """A unique key's definition (`UNIQUE (a, b)`, `PRIMARY KEY (id)`, `CREATE UNIQUE INDEX … (a, b) WHERE …`)
    with the partition key added to its columns, if it has not got it."""
    head, columns, tail = _columns(definition)
    if KEY in [c.strip().strip('"') for c in columns.split(",")]:
        return definition
    return f"{head}({columns}, {KEY}){tail}"


def _columns(definition: str) -> tuple[str, str, str]:
    """The text before the column list's parenthesis, the list, and the text after it."""
    start = definition.index("(", definition.index(" USING ") if " USING " in definition else 0)
    depth = 0
    for end in range(start, len(definition)):
        depth += {"(": 1, ")": -1}.get(definition[end], 0)
        if depth == 0:
            return definition[:start], definition[start + 1 : end], definition[end + 1 :]
    raise ValueError(f"no column list in {definition!r}")


def _tables(cursor) -> list[str]:
    """The tables partitioned by customer id in this schema."""
    cursor.execute(
        "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0] "
        "WHERE c.relnamespace = current_schema()::regnamespace AND a.attname = %s ORDER BY c.relname",
        [KEY],
    )
    return [name for (name,) in cursor.fetchall()]


def _partitions(cursor, table: str) -> list[Partition]:
    cursor.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        [table],
    )
    found = []
    for name, bound, rows in cursor.fetchall():
        match = _BOUNDS.search(bound)
        low, high = (int(match[1]), int(match[2])) if match else (None, None)
        found.append(Partition(table=table, name=name, low=low, high=high, rows=max(int(rows), 0)))
    return sorted(found, key=lambda p: (p.low is None, p.low or 0))


def _add_ranges(cursor, table: str, *, upto: int, size: int) -> list[str]:
    """Ranges of `size` ids after the highest one on file until `upto` is covered; the new partitions' names.
    A new range takes over the rows the DEFAULT partition caught for it."""
    ranged = [p for p in _partitions(cursor, table) if p.low is not None]
    low = max((p.high for p in ranged), default=0)
    cursor.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [table + "_default"])
    options = cursor.fetchone()[0] or []
    made = []
    while low <= upto:
        high = low + size
        name = f"{table}_from_{low}"
        cursor.execute(
            f"CREATE TABLE {_quote(name)} (LIKE {_quote(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            + (f" WITH ({', '.join(options)})" if options else "")
        )
        cursor.execute(
            f"WITH moved AS (DELETE FROM {_quote(table + '_default')} WHERE {KEY} >= %s AND {KEY} < %s RETURNING *) "
            f"INSERT INTO {_quote(name)} SELECT * FROM moved",
            [low, high],
        )
        cursor.execute(f"ALTER TABLE {_quote(table)} ATTACH PARTITION {_quote(name)} FOR VALUES FROM ({low}) TO ({high})")
        made.append(name)
        low = high
    return made


def partitions_ensure(*, newest: int, size: int | None = None) -> list[str]:
    """Keep every partitioned table's ranges a block ahead of customer id `newest`; the partitions created.
    Idempotent; a no-op but on PostgreSQL."""
    if connection.vendor != "postgresql":
        return []
    size = size or settings.ONBOARD90["PARTITION_CUSTOMERS"]
    made: list[str] = []
    with transaction.atomic(), connection.cursor() as cursor:
        for table in _tables(cursor):
            made += _add_ranges(cursor, table, upto=newest + size, size=size)
    return made


def partitions_list() -> list[Partition]:
    """Every partition of every table partitioned by customer id, in id order, the DEFAULT one last."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        return [p for table in _tables(cursor) for p in _partitions(cursor, table)]


def partitions_detach(*, partitions: list[Partition]) -> list[str]:
    """Detach `partitions` from their tables: each stays in the database as a table of its own, for the
    operator to archive (pg_dump -t) and drop; the application no longer reads it."""
    with transaction.atomic(), connection.cursor() as cursor:
        for partition in partitions:
            cursor.execute(f"ALTER TABLE {_quote(partition.table)} DETACH PARTITION {_quote(partition.name)}")
    return [p.name for p in partitions]
