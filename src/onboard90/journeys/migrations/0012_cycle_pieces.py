from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):

    dependencies = [
        ('journeys', '0011_action_indexes_for_the_figures'),
    ]

    operations = [
        migrations.AddField(
            model_name='cyclerun',
            name='on_workers',
            field=models.BooleanField(default=False, verbose_name='分布式运行'),
        ),
        migrations.CreateModel(
            name='CyclePiece',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=64, verbose_name='名称')),
                ('position', models.PositiveIntegerField(verbose_name='顺序')),
                ('stage', models.PositiveIntegerField(verbose_name='阶段')),
                ('plan', models.JSONField(blank=True, default=dict, verbose_name='计划')),
                ('counts', models.JSONField(blank=True, default=dict, verbose_name='计数')),
                ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='完成')),
                ('run', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='pieces', to='journeys.cyclerun', verbose_name='日处理')),
            ],
            options={
                'verbose_name': '日处理分片',
                'verbose_name_plural': '日处理分片',
                'ordering': ['run', 'position'],
                'constraints': [models.UniqueConstraint(fields=('run', 'name'), name='journeys_cyclepiece_run_name')],
            },
        ),
    ]
