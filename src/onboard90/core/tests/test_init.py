"""`onboard90 init`: one command sets up everything, and running it again changes nothing."""

import json
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command

from onboard90.catalog.models import Package
from onboard90.org.models import City, Unit
from onboard90.playbook.models import PlaybookVersion

pytestmark = pytest.mark.django_db


def table_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def init(*args: str) -> str:
    out = StringIO()
    call_command("init", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_init_loads_cities_catalogue_and_the_default_playbook(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    text = init()
    assert settings.VAR_DIR.is_dir()
    assert City.objects.count() == 17
    assert Unit.objects.filter(code="laiwu-cc").exists()
    assert Package.objects.filter(code="A66").exists()
    assert PlaybookVersion.objects.count() == 1
    assert "初始化完成 / initialised" in text
    assert "地市 / cities: 新建 / created 17" in text
    assert "已发布 / published" in text


def test_init_twice_changes_nothing(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    init()
    before = table_counts()
    text = init()
    assert table_counts() == before
    assert "新建 / created 0" in text and "新建 / created 17" not in text
    assert "沿用当前版本 / current version kept" in text


def test_init_json_is_one_document_reporting_nothing_new_on_a_rerun(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path / "var"
    init()
    capsys.readouterr()
    human = init("--json")
    summary = json.loads(capsys.readouterr().out)
    assert human == ""
    assert summary["migrations_applied"] == 0
    assert summary["cities"] == {"created": 0, "unchanged": 17, "edited": 0}
    assert all(summary[key]["created"] == 0 for key in ["units", "packages", "vip_tiers", "reference_items"])
    assert summary["playbook"]["version"] == 1 and summary["playbook"]["published"] is False
    assert summary["database"]["vendor"] in ("sqlite", "postgresql")
