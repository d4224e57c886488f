"""`onboard90 playbook show --yaml`: the version as YAML that `playbook load` takes back unchanged."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command

from onboard90 import testing
from onboard90.playbook import schema, services
from onboard90.playbook.models import PlaybookVersion

pytestmark = pytest.mark.django_db


def test_the_default_playbook_survives_yaml_unchanged():
    version = testing.playbook_version()
    text = services.document_yaml(version.document)
    assert schema.validate(yaml.safe_load(text)).model_dump(mode="json") == version.document


def test_show_yaml_prints_readable_chinese_yaml(capsys):
    testing.playbook_version()
    call_command("playbook", "show", "--yaml")
    out = capsys.readouterr().out
    assert out.startswith("# 服务方案 v1")
    assert "name: 山东联通3G客户入网导入期服务方案(试行)" in out and "\\u" not in out
    assert "days: [0, 3]" in out and "deliveries: [verbal, sms]" in out
    assert yaml.safe_load(out)["stages"][0]["actions"][0]["code"] == "tariff_notice"


def test_show_yaml_then_load_is_no_change(tmp_path, capsys):
    services.playbook_install_default()
    call_command("playbook", "show", "--yaml")
    exported = tmp_path / "playbook.yaml"
    exported.write_text(capsys.readouterr().out, encoding="utf-8")
    call_command("playbook", "load", str(exported))
    assert "无变化 / no change: same as v1" in capsys.readouterr().out
    assert PlaybookVersion.objects.count() == 1


def test_an_exported_older_version_loads_back_as_its_own_content(tmp_path, capsys):
    v1 = testing.playbook_version()
    testing.playbook_version({**v1.document, "journey_days": 91})
    call_command("playbook", "show", "--yaml", "--version", "1")
    exported = tmp_path / "v1.yaml"
    exported.write_text(capsys.readouterr().out, encoding="utf-8")
    call_command("playbook", "load", str(exported))
    v3 = PlaybookVersion.objects.get(number=3)
    assert v3.document == v1.document and v3.checksum == v1.checksum


def test_an_edited_export_loads_as_the_next_version(tmp_path, capsys):
    testing.playbook_version()
    call_command("playbook", "show", "--yaml")
    text = capsys.readouterr().out.replace("journey_days: 90", "journey_days: 91")
    edited = tmp_path / "edited.yaml"
    edited.write_text(text, encoding="utf-8")
    call_command("playbook", "load", str(edited))
    assert PlaybookVersion.objects.get(number=2).document["journey_days"] == 91
