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
