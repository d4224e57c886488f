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

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.customers.models import Customer, CustomerEvent
from onboard90.customers.tests.files import (
    NOW,
    customer_row,
    read_errors,
    world,
    write_csv,
    write_jsonl,
    write_xlsx,
)

ONBOARD90 = Path(sys.executable).with_name("onboard90")


def run_import(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        call_command("import", *args)
    return exit_info.value.code


@pytest.mark.django_db
class TestInProcess:
    @pytest.fixture(autouse=True)
    def province(self):
        # The command reads the wall clock, as it does for a user: here the clock of the files' time (2012).
        province = world()
        builders.scratch_database()
        with clock.simulated(NOW):
            yield province

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
        assert run_import("payments", str(tmp_path / "x.csv")) == 2
        err = capsys.readouterr().err
        assert "unknown import kind: payments" in err and "usage" in err  # the valid kinds are named

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

    def test_the_same_customer_row_twice_in_a_file_counts_as_a_duplicate(self, tmp_path, capsys):
        rows = [customer_row("18600000001"), customer_row("18600000002"), customer_row("18600000001")]
        path = write_csv(tmp_path / "twice.csv", rows)

        assert run_import("customers", str(path), "--json") == 0

        document = json.loads(capsys.readouterr().out)
        assert (document["total"], document["created"], document["duplicates"], document["rejected"]) == (3, 2, 1, 0)
        assert Customer.objects.count() == 2

    def test_the_same_number_twice_with_other_values_is_rejected_naming_the_first_line(self, tmp_path, capsys):
        rows = [customer_row("18600000001"), customer_row("18600000001", package_code="A96")]
        path = write_csv(tmp_path / "conflict.csv", rows)

        assert run_import("customers", str(path)) == 3

        out = capsys.readouterr().out
        assert "新增 / created: 1" in out and "重复 / duplicates: 0" in out and "拒绝 / rejected: 1" in out
        [error] = read_errors(tmp_path / "conflict.errors.csv")
        assert error["reason"] == (
            "文件中号码重复且内容不同(首次在第2行) / msisdn repeated in this file with other values (first on line 2)"
        )
        assert Customer.objects.get().package.code == "A66"

    def test_the_same_vip_rating_bill_or_event_twice_in_a_file_counts_as_a_duplicate(self, tmp_path, capsys):
        run_import("customers", str(write_csv(tmp_path / "c.csv", [customer_row("18600000001")])))
        rating = {"msisdn": "18600000001", "vip_level": "gold", "rated_at": "2012-03-05"}
        bill = {"msisdn": "18600000001", "bill_month": "2012-03", "issued_at": "2012-04-03", "amount": "58.50"}
        cancel = {"type": "cancellation", "msisdn": "18600000001", "at": "2012-04-20", "idempotency_key": "c-1"}
        files = {
            "vip": write_csv(tmp_path / "vip.csv", [rating, rating], header=list(rating)),
            "bills": write_csv(tmp_path / "bills.csv", [bill, bill], header=list(bill)),
            "events": write_jsonl(tmp_path / "events.jsonl", [cancel, cancel]),
        }
        capsys.readouterr()

        for kind, path in files.items():
            assert run_import(kind, str(path), "--json") == 0, kind
            document = json.loads(capsys.readouterr().out)
            assert (document["total"], document["duplicates"], document["unchanged"], document["rejected"]) == (
                2, 1, 0, 0
            ), kind

    def test_a_row_with_more_columns_than_the_header_is_rejected_and_the_others_import(self, tmp_path, capsys):
        path = tmp_path / "shifted.csv"
        path.write_text(
            "msisdn,name,city,activated_at,product,package_code\n"
            "18600000001,张三,济南,2012-03-01 10:00,postpaid,A66\n"
            "18600000002,张,三,济南,2012-03-01 10:00,postpaid,A66\n"  # an unquoted comma in the name
            "18600000003,李四,济南,2012-03-01 10:00,postpaid,A66\n",
            encoding="utf-8",
        )

        assert run_import("customers", str(path)) == 3

        assert "新增 / created: 2" in capsys.readouterr().out
        [error] = read_errors(tmp_path / "shifted.errors.csv")
        assert (error["msisdn"], error["line"]) == ("18600000002", "3")
        assert error["reason"] == "列数多于表头(7 > 6) / row has more columns than the header (7 > 6)"
        assert set(Customer.objects.values_list("msisdn", flat=True)) == {"18600000001", "18600000003"}

    def test_an_xlsx_value_in_a_column_without_a_header_is_rejected(self, tmp_path, capsys):
        header = ["msisdn", "city", "activated_at", "product", "package_code"]
        path = write_xlsx(tmp_path / "wide.xlsx", [
            ["18600000001", "济南", "2012-03-01 10:00", "postpaid", "A66"],
            ["18600000002", "济南", "2012-03-01 10:00", "postpaid", "A66", None, "stray"],
        ], header=header)

        assert run_import("customers", str(path)) == 3

        capsys.readouterr()
        [error] = read_errors(tmp_path / "wide.errors.csv")
        assert error["reason"] == "列数多于表头(7 > 5) / row has more columns than the header (7 > 5)"
        assert Customer.objects.get().msisdn == "18600000001"

    def test_a_field_larger_than_the_csv_field_limit_rejects_only_its_row(self, tmp_path, capsys):
        huge = "张" * 200_000  # beyond csv.field_size_limit() (131072), which used to end the whole file
        path = write_csv(tmp_path / "huge.csv", [
            customer_row("18600000001"), customer_row("18600000002", name=huge), customer_row("18600000003"),
        ])

        assert run_import("customers", str(path)) == 3

        out = capsys.readouterr().out
        assert "新增 / created: 2" in out and "拒绝 / rejected: 1" in out
        [error] = read_errors(tmp_path / "huge.errors.csv")
        assert error["reason"] == "姓名过长 / name is longer than 64 characters (200000)"
        assert error["name"] == huge  # the row comes back whole, to be corrected
        assert set(Customer.objects.values_list("msisdn", flat=True)) == {"18600000001", "18600000003"}

    @pytest.mark.parametrize(
        ("kind", "row", "reason"),
        [
            ("customers", customer_row("18600000001", contract_plan="x" * 65),
             "合约计划过长 / contract_plan is longer than 64 characters (65)"),
            ("customers", customer_row("18600000001", city="济" * 300),
             "地市过长 / city is longer than 256 characters (300)"),
            ("vip", {"msisdn": "18600000001", "vip_level": "gold", "rated_at": "2012-03-05",
                     "idempotency_key": "k" * 129},
             "幂等键过长 / idempotency_key is longer than 128 characters (129)"),
        ],
    )
    def test_a_field_longer_than_its_column_rejects_its_row_with_a_reason(self, tmp_path, capsys, kind, row, reason):
        if kind != "customers":
            run_import("customers", str(write_csv(tmp_path / "c.csv", [customer_row("18600000001")])))
        path = write_csv(tmp_path / f"{kind}.csv", [row], header=list(row) if kind != "customers" else None)
        events = CustomerEvent.objects.count()

        assert run_import(kind, str(path)) == 3

        capsys.readouterr()
        assert read_errors(tmp_path / f"{kind}.errors.csv")[0]["reason"] == reason
        assert CustomerEvent.objects.count() == events


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    """A fresh SQLite database migrated by the console script, with Jinan, A66 and the default playbook."""
    directory = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{directory / 'x.sqlite3'}", "ONBOARD90_VAR": str(directory)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run([str(ONBOARD90), "migrate", "--verbosity", "0"], env=env, check=True, capture_output=True)
    setup = (
        "from onboard90 import testing as b; b.city('jinan'); b.package('A66'); b.playbook_version(); "
        "b.scratch_database()"
    )
    subprocess.run([str(ONBOARD90), "shell", "-c", setup], env=env, check=True, capture_output=True)
    # The imports run on the clock of the files' time (2012), which only a scratch database accepts.
    return {**env, "ONBOARD90_CLOCK": NOW.strftime("%Y-%m-%d %H:%M")}, directory


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ONBOARD90), "import", *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.sqlite
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
