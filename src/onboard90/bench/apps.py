from django.apps import AppConfig


class BenchConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "onboard90.bench"
    verbose_name = "基准测试 / benchmarks"
