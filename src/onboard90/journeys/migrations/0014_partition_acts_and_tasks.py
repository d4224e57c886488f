"""PostgreSQL: the act and task tables partitioned by ranges of customer ids (see core.partitions).

Their primary keys become (id, customer_id) and their unique keys get customer_id; Django's models are
unchanged (the id stays the one the application reads a row by). SQLite keeps the tables as they are.
Irreversible on PostgreSQL: going back would mean rebuilding the tables flat, which no release needs.
"""

from django.db import migrations

from onboard90.core.partitions import partition_by_customer

TABLES = ("journeys_journeyaction", "journeys_task")


def _partition(apps, schema_editor):
    Customer = apps.get_model("customers", "Customer")
    newest = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    for table in TABLES:
        partition_by_customer(schema_editor, table, newest=newest)


class Migration(migrations.Migration):
    # After every migration that takes a database-checked foreign key off these tables.
    dependencies = [("journeys", "0013_rows_carry_their_customer"), ("messaging", "0007_surge_alerts")]

    operations = [migrations.RunPython(_partition, migrations.RunPython.noop)]
