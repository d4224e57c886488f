"""Month rows leave half of each page free on PostgreSQL (fillfactor 50).

Every day's file adds that day to each customer's month: an update of every month row, a million a day in a
province. With room on its page, the new version of a row goes beside the old one without touching either
index (a heap-only update; the dead version is pruned on a later visit), where a full page sent it to another
page with a new entry in both indexes — the upsert of a week's file took twice as long. Rows already on file
keep their pages; new pages get the room. SQLite has no such setting.
"""

from django.db import migrations


def _fillfactor(value: int):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE usage_usagemonth SET (fillfactor = {value})")

    return apply


class Migration(migrations.Migration):
    dependencies = [("usage", "0005_month_customer_key_unchecked")]

    operations = [migrations.RunPython(_fillfactor(50), _fillfactor(100))]
