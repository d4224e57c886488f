"""PostgreSQL session settings for one block of work, put back afterwards (a no-op on other databases)."""

from __future__ import annotations

import contextlib

from django.db import DatabaseError, connection


@contextlib.contextmanager
def pg_settings(**settings: str):
    """`with pg_settings(jit="off"):` — SET each setting for the block, then restore what it was."""
    if connection.vendor != "postgresql" or not settings:
        yield
        return
    with connection.cursor() as cursor:
        before = {}
        for name, value in settings.items():
            cursor.execute("SELECT current_setting(%s)", [name])
            before[name] = cursor.fetchone()[0]
            cursor.execute("SELECT set_config(%s, %s, false)", [name, value])

    def restore() -> None:
        with connection.cursor() as cursor:
            for name, value in before.items():
                cursor.execute("SELECT set_config(%s, %s, false)", [name, value])

    try:
        yield
    except BaseException:
        # In a transaction the error has aborted, the rollback puts the settings back by itself (SET is
        # transactional) and restoring here would fail and hide the error; outside one, this restores.
        with contextlib.suppress(DatabaseError):
            restore()
        raise
    restore()
