"""The PostgreSQL pass really runs on PostgreSQL 15+ with the whole schema migrated."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_the_database_is_postgresql_15_or_newer():
    assert connection.vendor == "postgresql"
    connection.ensure_connection()
    assert connection.pg_version >= 150000
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_encoding")
        assert cursor.fetchone()[0] == "UTF8"


def test_the_schema_is_fully_migrated():
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    tables = set(connection.introspection.table_names())
    expected = {"org_city", "org_unit", "org_staffprofile", "catalog_package", "catalog_viptier",
                "catalog_referenceitem", "core_auditentry", "customers_customer", "journeys_journey"}  # fmt: skip
    assert expected <= tables


def test_chinese_text_round_trips():
    from onboard90.org.models import City

    City.objects.create(code="test-city", name="莱芜市测试", name_en="Laiwu test", area_code="0999")
    assert City.objects.get(code="test-city").name == "莱芜市测试"


def _setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [name])
        return cursor.fetchone()[0]


def test_every_connection_of_the_application_runs_without_jit():
    """The server's default is on; the application's connections turn it off (settings: why)."""
    assert _setting("jit") == "off"
    with connection.cursor() as cursor:
        cursor.execute("SELECT boot_val FROM pg_settings WHERE name = 'jit'")
        assert cursor.fetchone()[0] == "on"


def test_planner_settings_hold_for_the_block_and_are_put_back():
    from onboard90.core.session import pg_settings

    before = _setting("enable_hashjoin")
    with pg_settings(enable_hashjoin="off", work_mem="64MB"):
        assert _setting("enable_hashjoin") == "off" and _setting("work_mem") == "64MB"
    assert _setting("enable_hashjoin") == before


def test_a_database_error_inside_the_block_is_the_error_raised(transactional_db):
    from django.db import ProgrammingError, transaction

    from onboard90.core.session import pg_settings

    with pytest.raises(ProgrammingError, match="no_such_table"):
        with transaction.atomic(), pg_settings(enable_hashjoin="off"):
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM no_such_table")
    assert _setting("enable_hashjoin") == "on"


def test_the_tables_the_cycle_writes_keep_room_on_each_page():
    """Each partition of them (a partitioned table has no pages of its own), the ranges made later included."""
    from onboard90.core.partitions import partitions_ensure, partitions_list

    partitions_ensure(newest=max(p.high for p in partitions_list() if p.high is not None) + 1)
    wanted = {"journeys_journeyaction": ["fillfactor=90"], "journeys_task": ["fillfactor=90"],
              "messaging_outboxmessage": ["fillfactor=85"]}  # fmt: skip
    with connection.cursor() as cursor:
        names = [p.name for p in partitions_list()]
        cursor.execute("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)", [names])
        options = dict(cursor.fetchall())
    assert len(options) >= 3 * 3  # a DEFAULT and at least two ranges each
    assert options == {p.name: wanted[p.table] for p in partitions_list()}
