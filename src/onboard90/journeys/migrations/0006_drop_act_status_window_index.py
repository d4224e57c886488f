from django.db import migrations


class Migration(migrations.Migration):
    """Drop the acts' (status, window_end) index: no query uses it, and every act written or flipped paid for it."""

    dependencies = [
        ('journeys', '0005_cycle_delta'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='journeyaction',
            name='journeys_jo_status_07f64a_idx',
        ),
    ]
