"""PostgreSQL: the outbox partitioned by ranges of customer ids, as the acts and tasks are (see
core.partitions); its primary key becomes (id, customer_id) and its unique keys get customer_id. SQLite keeps
the table as it is."""

from django.db import migrations

from onboard90.core.partitions import partition_by_customer


def _partition(apps, schema_editor):
    Customer = apps.get_model("customers", "Customer")
    newest = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    partition_by_customer(schema_editor, "messaging_outboxmessage", newest=newest)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0007_surge_alerts"), ("journeys", "0014_partition_acts_and_tasks")]

    operations = [migrations.RunPython(_partition, migrations.RunPython.noop)]
