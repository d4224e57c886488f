"""`onboard90 import KIND PATH [--json]`: a summary in Chinese and English, exit 0 when every row imported,
3 when some were rejected, 2 when the file is unusable — in-process and as the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from onboard90.customers.models import Customer
from onboard90.customers.tests.files import customer_row, world, write_csv, write_jsonl

ONBOARD90 = Path(sys.executable).with_name("onboard90")


def run_import(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        call_command("import", *args)
    return exit_info.value.code


@pytest.mark.django_db
class TestInProcess:
    @pytest.fixture(autouse=True)
    def province(self):
        return world()

    def test_all_rows_imported_exits_0_with_a_bilingual_summary(self, tmp_path, capsys):
        path = write_csv(tmp_path / "ok.csv", [customer_row("18600000001"), customer_row("18600000002")])

        assert run_import("customers", str(path)) == 0

        out = capsys.readouterr().out
        assert f"导入客户 / import customers: {path}" in out
        assert "新增 / created: 2" in out and "拒绝 / rejected: 0" in out and "错误文件" not in out
        assert Customer.objects.count() == 2

    def test_some_rows_rejected_exits_3_and_names_the_error_file(self, tmp_path, capsys):
        path = write_csv(tmp_path / "some.csv", [customer_row("18600000001"), customer_row("13800138000")])

        assert run_import("customers", str(path)) == 3

        out = capsys.readouterr().out
        assert "拒绝 / rejected: 1" in out and f"错误文件 / error file: {tmp_path / 'some.errors.csv'}" in out
        assert Customer.objects.count() == 1

    def test_missing_required_column_exits_2_with_one_line_naming_it_and_imports_nothing(self, tmp_path, capsys):
        path = write_csv(tmp_path / "bad.csv", [customer_row("18600000001")], header=["msisdn", "city", "product"])

        assert run_import("customers", str(path)) == 2

        captured = capsys.readouterr()
        assert captured.err.strip() == (
            "无法导入 / cannot import: 缺少必需列 / missing required columns: activated_at, package_code"
        )
        assert captured.out == "" and not Customer.objects.exists()

    @pytest.mark.parametrize(
        ("name", "content", "reason"),
        [
            ("missing.csv", None, "no such file"),
            ("empty.csv", b"", "the file is empty"),
            ("binary.csv", b"\xff\xfe\x00\x01\x81\x30", "UTF-16 is not supported"),
            ("garbage.csv", b"msisdn,city\n\x81\xff\xfe\x80", "unreadable encoding"),
            ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xls is not supported"),
            ("broken.xlsx", b"PK\x03\x04 not really a zip", "cannot read the XLSX file"),
        ],
    )
    def test_unreadable_files_exit_2(self, tmp_path, capsys, name, content, reason):
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)

        assert run_import("customers", str(path)) == 2

        assert reason in capsys.readouterr().err

    def test_unknown_kind_exits_2(self, tmp_path, capsys):
        assert run_import("usage", str(tmp_path / "x.csv")) == 2
        assert "unknown import kind: usage" in capsys.readouterr().err

    def test_json_prints_one_document_and_nothing_else(self, tmp_path, capsys):
        path = write_jsonl(tmp_path / "events.jsonl", [
            {"type": "activation", "msisdn": "18600000001", "at": "2012-03-01", "idempotency_key": "e-1",
             "city": "jinan", "product": "postpaid", "package_code": "A66"},
            "not json",
        ])

        assert run_import("events", str(path), "--json") == 3

        document = json.loads(capsys.readouterr().out)
        assert document == {
            "kind": "events", "path": str(path), "total": 2, "created": 1, "updated": 0, "unchanged": 0,
            "duplicates": 0, "rejected": 1, "error_path": str(tmp_path / "events.errors.jsonl"), "exit_code": 3,
        }


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    """A fresh SQLite database migrated by the console script, with Jinan, A66 and the default playbook."""
    directory = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{directory / 'x.sqlite3'}", "ONBOARD90_VAR": str(directory)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run([str(ONBOARD90), "migrate", "--verbosity", "0"], env=env, check=True, capture_output=True)
    setup = (
        "from onboard90 import testing as b; b.city('jinan'); b.package('A66'); b.playbook_version()"
    )
    subprocess.run([str(ONBOARD90), "shell", "-c", setup], env=env, check=True, capture_output=True)
    return env, directory


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ONBOARD90), "import", *args], env=env, capture_output=True, text=True, timeout=120)


def test_console_script_exit_codes_are_0_3_and_2(cli_env):
    env, directory = cli_env
    good = write_csv(directory / "good.csv", [customer_row("18600000001")])
    some_bad = write_csv(directory / "some.csv", [customer_row("18600000002"), customer_row("1860000")])
    unusable = write_csv(directory / "cols.csv", [customer_row("18600000003")], header=["msisdn"])

    done, partial, refused = cli(env, "customers", str(good)), cli(env, "customers", str(some_bad)), cli(
        env, "customers", str(unusable)
    )

    assert (done.returncode, partial.returncode, refused.returncode) == (0, 3, 2)
    assert "新增 / created: 1" in done.stdout and "Traceback" not in done.stderr + partial.stderr + refused.stderr
    assert (directory / "some.errors.csv").exists()
    assert refused.stdout == ""
    assert refused.stderr.strip().endswith("missing required columns: city, activated_at, product, package_code")

    again = cli(env, "customers", str(good), "--json")

    assert again.returncode == 0
    assert json.loads(again.stdout)["unchanged"] == 1
