from django.db import migrations

# A journey started for a customer is a change of that customer for the cycle (see customers.CustomerChange):
# a journey loaded late, or restarted, must be looked at by the next cycle like a changed customer.
POSTGRES = [
    """CREATE FUNCTION journeys_change_log() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO customers_customerchange (customer_id) SELECT customer_id FROM written_rows;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER journeys_change_on_insert AFTER INSERT ON journeys_journey
    REFERENCING NEW TABLE AS written_rows FOR EACH STATEMENT EXECUTE FUNCTION journeys_change_log()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS journeys_change_on_insert ON journeys_journey",
    "DROP FUNCTION IF EXISTS journeys_change_log()",
]
SQLITE = [
    """CREATE TRIGGER journeys_change_on_insert AFTER INSERT ON journeys_journey
    BEGIN INSERT INTO customers_customerchange (customer_id) VALUES (NEW.customer_id); END""",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS journeys_change_on_insert"]


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0009_worklist_running_indexes"),
        ("customers", "0004_change_log"),
    ]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRES_DROP, "sqlite": SQLITE_DROP}),
        ),
    ]
