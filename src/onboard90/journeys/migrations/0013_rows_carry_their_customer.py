"""Acts, tasks and escalations carry their customer's id, and every unique key of an act holds it.

The customer's id is the key the act, task and message rows are partitioned by on PostgreSQL (0014) and the
key Citus would distribute every per-customer table by (docs/SCALING.md): a unique key must hold it. Rows on
file get it from their journey (acts, tasks) or task (escalations). The attempt log no longer has its
foreign key checked by the database: a foreign key to a partitioned table would have to name the partition
key as well.
"""

import django.db.models.deletion
from django.db import migrations, models

FILL = [
    "UPDATE journeys_journeyaction SET customer_id = "
    "(SELECT j.customer_id FROM journeys_journey j WHERE j.id = journeys_journeyaction.journey_id)",
    "UPDATE journeys_task SET customer_id = "
    "(SELECT j.customer_id FROM journeys_journey j WHERE j.id = journeys_task.journey_id)",
    "UPDATE journeys_escalation SET customer_id = "
    "(SELECT t.customer_id FROM journeys_task t WHERE t.id = journeys_escalation.task_id)",
]


def _customer(null: bool):
    return models.ForeignKey(
        null=null, db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING,
        related_name="+", to="customers.customer", verbose_name="客户",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0006_event_type_port_out"),
        ("journeys", "0012_cycle_pieces"),
    ]

    operations = [
        *(migrations.AddField(model_name=m, name="customer", field=_customer(True)) for m in ("journeyaction", "task", "escalation")),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
        *(migrations.AlterField(model_name=m, name="customer", field=_customer(False)) for m in ("journeyaction", "task", "escalation")),
        migrations.RemoveConstraint(model_name="journeyaction", name="journeys_action_once_per_journey"),
        migrations.AddConstraint(
            model_name="journeyaction",
            constraint=models.UniqueConstraint(
                fields=("journey", "action_code", "occurrence", "customer"), name="journeys_action_once_per_journey"
            ),
        ),
        migrations.AlterField(
            model_name="taskattempt",
            name="task",
            field=models.ForeignKey(
                db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name="attempt_log",
                to="journeys.task", verbose_name="任务",
            ),
        ),
    ]
