"""`onboard90 playbook validate|show|load` from the command line: exit codes, stdout and stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from onboard90.playbook import services
from onboard90.playbook.models import PlaybookVersion

DEFAULT = str(services.DEFAULT_PATH)


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("onboard90")
    return [str(script)] if script.exists() else [sys.executable, "-m", "onboard90"]


def _run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([*_cli(), *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory) -> dict:
    """A migrated SQLite file of its own, so the CLI runs exactly as an operator runs it."""
    var = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{var / 'db.sqlite3'}", "ONBOARD90_VAR": str(var)}
    env.pop("ONBOARD90_DEBUG", None)
    result = _run("migrate", "-v", "0", env=env)
    assert result.returncode == 0, result.stderr
    return env


@pytest.fixture
def bad_file(tmp_path) -> Path:
    document = services.default_document()
    document["stages"][2]["actions"][0]["window"].update(start=2, end=0)
    document["stages"][0]["actions"][7]["audience"] = "changed_number"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.sqlite
def test_validate_a_good_file_prints_a_summary_and_exits_0(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}"}
    result = _run("playbook", "validate", DEFAULT, env=env)
    assert result.returncode == 0, result.stderr
    assert "6 个阶段 stages, 17 个动作 actions (方案原文 plan 12, 推断 inferred 5)" in result.stdout
    assert result.stderr == ""


@pytest.mark.sqlite
def test_validate_a_bad_file_lists_each_problem_on_stderr_and_exits_1(tmp_path, bad_file):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}"}
    result = _run("playbook", "validate", str(bad_file), env=env)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert "stages[2].actions[0].window.end: must be >= start" in lines
    assert any(line.startswith("stages[0].actions[7].audience: bad audience expression") for line in lines)
    assert "2 problems" in lines[-1]
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.sqlite
def test_validate_bad_yaml_names_line_and_column_without_a_traceback(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nstages: [\n  - a\n", encoding="utf-8")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}"}
    result = _run("playbook", "validate", str(path), env=env)
    assert result.returncode == 1
    assert "YAML syntax error at line 3, column 3" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.sqlite
def test_load_twice_publishes_once_and_show_json_is_the_document(cli_env):
    first = _run("playbook", "load", DEFAULT, env=cli_env)
    second = _run("playbook", "load", DEFAULT, env=cli_env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.startswith("已发布 v1")
    assert second.stdout.startswith("无变化 / no change: same as v1")

    shown = _run("playbook", "show", "--json", env=cli_env)
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)  # the whole of stdout is one JSON document
    assert len([a for s in document["stages"] for a in s["actions"]]) == 17

    table = _run("playbook", "show", "--version", "1", env=cli_env)
    assert table.returncode == 0
    assert "first_callback" in table.stdout and "activation 4–10" in table.stdout


@pytest.mark.sqlite
def test_show_json_round_trips_through_load(cli_env, tmp_path):
    exported = tmp_path / "exported.json"
    exported.write_text(_run("playbook", "show", "--json", env=cli_env).stdout, encoding="utf-8")
    result = _run("playbook", "load", str(exported), env=cli_env)
    assert result.returncode == 0 and "无变化" in result.stdout


@pytest.mark.sqlite
def test_load_a_missing_file_is_a_clean_error(cli_env, tmp_path):
    result = _run("playbook", "load", str(tmp_path / "nope.yaml"), env=cli_env)
    assert result.returncode == 1
    assert "no such file" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.django_db
def test_load_as_a_user_records_the_publisher_and_a_bad_file_publishes_nothing(bad_file, capsys):
    clerk = get_user_model().objects.create_user(username="sd_admin")
    call_command("playbook", "load", DEFAULT, "--as", "sd_admin")
    assert "已发布 v1" in capsys.readouterr().out
    assert PlaybookVersion.objects.get().published_by == clerk

    with pytest.raises(CommandError, match="playbook is invalid: 2 problems"):
        call_command("playbook", "load", str(bad_file))
    assert "stages[2].actions[0].window.end: must be >= start" in capsys.readouterr().err
    assert PlaybookVersion.objects.count() == 1


@pytest.mark.django_db
def test_load_as_an_unknown_user_is_refused():
    with pytest.raises(CommandError, match="no such user: nobody"):
        call_command("playbook", "load", DEFAULT, "--as", "nobody")
    assert not PlaybookVersion.objects.exists()


@pytest.mark.django_db
def test_show_before_anything_is_published_points_at_init():
    with pytest.raises(CommandError, match="onboard90 init"):
        call_command("playbook", "show")


@pytest.mark.django_db
def test_show_an_unknown_version_is_refused():
    services.playbook_install_default()
    with pytest.raises(CommandError, match="no playbook version 7"):
        call_command("playbook", "show", "--version", "7")


@pytest.mark.django_db
def test_show_json_prints_only_json(capsys):
    services.playbook_install_default()
    call_command("playbook", "show", "--json")
    out = capsys.readouterr().out
    assert json.loads(out)["name"] == "山东联通3G客户入网导入期服务方案(试行)"
