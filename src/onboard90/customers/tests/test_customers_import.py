"""Importing the customers file from BSS: good rows become customers on their journey, bad rows go to the
error file with their reason, and importing again changes only what changed."""

from __future__ import annotations

import datetime as dt

import pytest

from onboard90.core import clock
from onboard90.core.models import AuditEntry
from onboard90.customers import importing, services
from onboard90.customers.enums import EventType, FirstMonth
from onboard90.customers.models import Customer, CustomerEvent
from onboard90.customers.tests.files import (
    CUSTOMER_HEADER,
    NOW,
    customer_row,
    read_errors,
    world,
    write_csv,
    write_xlsx,
)
from onboard90.journeys.enums import JourneyStatus
from onboard90.journeys.models import Journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def province():
    return world()


def import_customers(path):
    return services.customers_import(path=path, now=NOW)


def test_good_file_creates_customers_with_their_anchors_events_and_journeys(province, tmp_path):
    path = write_csv(tmp_path / "new.csv", [
        customer_row("18600000001", name="张三", activated_at="2012-03-01 10:30"),
        customer_row("18600000002", city="青岛", activated_at="2012-03-02T23:30:00+08:00", product="prepaid",
                     package_code="P19"),
        customer_row("18600000003", store_code="jinan-store-2", first_month="减半", handset_os="Android",
                     marketing_opt_out="是", previous_msisdn="13800138000", contract_plan="存费送机"),
    ])

    result = import_customers(path)

    assert (result.total, result.created, result.rejected, result.exit_code) == (3, 3, 0, 0)
    assert result.error_path is None and not (tmp_path / "new.errors.csv").exists()
    first = Customer.objects.get(msisdn="18600000001")
    assert first.name == "张三" and first.city == province.jinan and first.store == province.main_store
    assert first.activated_at == clock.at_local(dt.date(2012, 3, 1), 10, 30)
    assert first.activated_on == dt.date(2012, 3, 1) and first.first_month == FirstMonth.FULL
    assert not first.is_vip and first.first_bill_on is None
    second = Customer.objects.get(msisdn="18600000002")
    assert second.city == province.qingdao and second.product == "prepaid" and second.package.code == "P19"
    third = Customer.objects.get(msisdn="18600000003")
    assert third.store == province.second_store and third.first_month == FirstMonth.HALF
    assert third.handset_os == "android" and third.marketing_opt_out and third.contract_plan == "存费送机"
    assert third.number_changed and third.previous_msisdn == "13800138000"
    assert set(Journey.objects.values_list("customer__msisdn", "status")) == {
        ("18600000001", JourneyStatus.ACTIVE), ("18600000002", JourneyStatus.ACTIVE),
        ("18600000003", JourneyStatus.ACTIVE),
    }
    activation = CustomerEvent.objects.get(idempotency_key="activation:18600000001")
    assert activation.type == EventType.ACTIVATION and activation.customer == first
    assert activation.at == first.activated_at and activation.payload["package"] == "A66"


def test_local_spellings_of_numbers_cities_and_flags_are_understood(province, tmp_path):
    path = write_csv(tmp_path / "spellings.csv", [
        customer_row("+8618600000011", city="济南市"),
        customer_row("86 186 0000 0012", city="jinan", activated_at="2012/3/5"),
        customer_row("18600000013", city="0532", first_month="包外", marketing_opt_out="n", handset_os="Nokia S40"),
        customer_row("18600000014", city="532", activated_at="20120306", product="后付费", first_month="half"),
    ])

    result = import_customers(path)

    assert (result.created, result.rejected) == (4, 0)
    by_number = {c.msisdn: c for c in Customer.objects.all()}
    assert by_number["18600000011"].city == province.jinan
    assert by_number["18600000012"].activated_on == dt.date(2012, 3, 5)
    assert by_number["18600000013"].city == province.qingdao
    assert by_number["18600000013"].first_month == FirstMonth.OUTSIDE
    assert by_number["18600000013"].handset_os == "other" and not by_number["18600000013"].marketing_opt_out
    assert by_number["18600000014"].activated_on == dt.date(2012, 3, 6)


BAD_ROWS = [
    # (what is wrong, the row, a fragment of the reason)
    ("msisdn too short", customer_row("1860000001"), "号码不是11位联通手机号 / not an 11-digit Unicom mobile number"),
    ("not a Unicom prefix", customer_row("13800138000"), "not an 11-digit Unicom mobile number: 13800138000"),
    ("unknown city", customer_row("18600000101", city="火星"), "未知地市 / unknown city: 火星"),
    ("unknown package", customer_row("18600000102", package_code="Z99"), "未知套餐 / unknown package: Z99"),
    ("package of the other product", customer_row("18600000103", product="prepaid"),
     "套餐与付费方式不符 / package A66 is postpaid, not prepaid"),
    ("store of another city", customer_row("18600000104", store_code="qingdao-store-1"),
     "营业厅不属于该地市 / store qingdao-store-1 belongs to 青岛, not 济南"),
    ("unknown store", customer_row("18600000105", store_code="nowhere"), "未知营业厅 / unknown store: nowhere"),
    ("not a date", customer_row("18600000106", activated_at="last tuesday"),
     "入网时间格式错误 / activated_at is not a date/time: last tuesday"),
    ("impossible date", customer_row("18600000107", activated_at="2012-02-30"),
     "入网时间不是有效日期 / activated_at is not a real date: 2012-02-30"),
    ("activation in the future", customer_row("18600000108", activated_at="2012-06-02 09:00"),
     "入网时间晚于当前时间 / activated_at is in the future"),
    ("bad product", customer_row("18600000109", product="monthly"),
     "付费方式错误 / product must be postpaid or prepaid: monthly"),
    ("bad first month", customer_row("18600000110", first_month="季度"), "首月资费错误 / first_month must be"),
    ("unknown VIP level", customer_row("18600000111", vip_level="铜卡"), "未知VIP等级 / unknown VIP level: 铜卡"),
    ("VIP rank past the enabled tiers", customer_row("18600000112", vip_level="4"), "unknown VIP level: 4"),
    ("disabled VIP tier", customer_row("18600000113", vip_level="白金卡"), "VIP等级已停用 / VIP tier 白金卡"),
    ("VIP on a prepaid number", customer_row("18600000114", product="prepaid", package_code="P19", vip_level="gold"),
     "预付费客户不参与VIP评级 / prepaid customers are not VIP-rated"),
    ("bad opt-out flag", customer_row("18600000115", marketing_opt_out="maybe"),
     "拒收营销短信错误 / marketing_opt_out must be"),
    ("missing product", customer_row("18600000116", product=""), "缺少付费方式 / product is empty"),
    ("the same number again with other values", customer_row("18600000001", name="again"),
     "文件中号码重复且内容不同(首次在第2行) / msisdn repeated in this file with other values (first on line 2)"),
    ("activated before the onboarding period", customer_row("18600000117", activated_at="1999-01-01 10:00"),
     "入网时间早于90天服务期(最早2012-02-20) / activated before the 90-day onboarding period: 1999-01-01 10:00"),
    ("activated more than an hour ahead", customer_row("18600000118", activated_at="2012-05-20 13:01"),
     "入网时间晚于当前时间 / activated_at is in the future: 2012-05-20 13:01"),
    ("name longer than the column", customer_row("18600000119", name="张" * 65),
     "姓名过长 / name is longer than 64 characters (65)"),
]


def test_every_bad_row_is_rejected_with_its_reason_and_the_good_rows_import(province, tmp_path):
    good = [customer_row("18600000001"), customer_row("18600000002")]
    path = write_csv(tmp_path / "mixed.csv", [good[0], *(row for _name, row, _reason in BAD_ROWS), good[1]])

    result = import_customers(path)

    assert (result.total, result.created, result.rejected) == (len(BAD_ROWS) + 2, 2, len(BAD_ROWS))
    assert result.exit_code == 3
    assert set(Customer.objects.values_list("msisdn", flat=True)) == {"18600000001", "18600000002"}
    assert Journey.objects.count() == 2
    errors_path = tmp_path / "mixed.errors.csv"
    assert result.error_path == str(errors_path)
    assert errors_path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to show Chinese
    errors = read_errors(errors_path)
    assert list(errors[0]) == [*CUSTOMER_HEADER, "line", "reason"]
    assert len(errors) == len(BAD_ROWS)
    for (name, row, reason), error in zip(BAD_ROWS, errors, strict=True):
        assert reason in error["reason"], name
        assert error["msisdn"] == row["msisdn"] and error["city"] == row["city"], name
    # header is line 1 and the first good row line 2, so the bad rows are lines 3, 4, …
    assert [int(error["line"]) for error in errors] == list(range(3, 3 + len(BAD_ROWS)))


def test_gbk_file_from_a_chinese_windows_export_imports(province, tmp_path):
    path = write_csv(tmp_path / "gbk.csv", [
        customer_row("18600000021", name="李四", city="青岛", first_month="减半"),
        customer_row("18600000022", name="王五", vip_level="金卡"),
    ], encoding="gbk")
    assert path.read_bytes().decode("gbk")  # really GBK, and not valid UTF-8
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")

    result = import_customers(path)

    assert (result.created, result.rejected) == (2, 0)
    li = Customer.objects.get(msisdn="18600000021")
    assert li.name == "李四" and li.city == province.qingdao and li.first_month == FirstMonth.HALF
    assert Customer.objects.get(msisdn="18600000022").vip_tier == province.tiers["gold"]


def test_utf8_file_with_a_byte_order_mark_imports(province, tmp_path):
    path = write_csv(tmp_path / "bom.csv", [customer_row("18600000031", name="赵六")], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    result = import_customers(path)

    assert (result.created, result.rejected) == (1, 0)
    assert Customer.objects.get(msisdn="18600000031").name == "赵六"


def test_xlsx_file_with_numbers_and_date_cells_imports(province, tmp_path):
    header = ["号码备注", "msisdn", "city", "activated_at", "product", "package_code", "vip_level", "first_month"]
    path = write_xlsx(tmp_path / "bss.xlsx", [
        ["ignored", 18600000041, 531, dt.datetime(2012, 3, 1, 10, 0), "postpaid", "A66", 1, "全月"],
        ["ignored", "18600000042", "青岛", dt.date(2012, 3, 2), "prepaid", "P19", None, "包外"],
        ["ignored", 13800138000, "济南", dt.datetime(2012, 3, 3, 9, 0), "postpaid", "A66", None, None],
    ], header=header)

    result = import_customers(path)

    assert (result.total, result.created, result.rejected) == (3, 2, 1)
    first = Customer.objects.get(msisdn="18600000041")
    assert first.city == province.jinan and first.activated_at == clock.at_local(dt.date(2012, 3, 1), 10)
    assert first.vip_tier == province.tiers["diamond"]  # rank 1 = the highest enabled tier
    assert Customer.objects.get(msisdn="18600000042").activated_on == dt.date(2012, 3, 2)
    errors = read_errors(tmp_path / "bss.errors.csv")
    assert list(errors[0]) == [*header, "line", "reason"]
    assert errors[0]["msisdn"] == "13800138000" and errors[0]["line"] == "4"


def test_a_file_without_a_required_column_is_unusable_and_imports_nothing(province, tmp_path):
    header = ["msisdn", "city", "activated_at", "name"]
    path = write_csv(tmp_path / "short.csv", [customer_row("18600000051")], header=header)

    with pytest.raises(importing.UnusableFile, match="missing required columns: product, package_code"):
        import_customers(path)

    assert not Customer.objects.exists()
    assert not AuditEntry.objects.filter(verb="import.customers").exists()


def test_reimporting_the_same_file_changes_nothing(province, tmp_path):
    path = write_csv(tmp_path / "again.csv", [
        customer_row("18600000061", vip_level="gold"),
        customer_row("18600000062", store_code="jinan-store-2", previous_msisdn="13100000000"),
        customer_row("18600000063", city="0532", marketing_opt_out="1"),
    ])
    first = import_customers(path)
    counts = (Customer.objects.count(), CustomerEvent.objects.count(), Journey.objects.count())
    stamps = dict(Customer.objects.values_list("msisdn", "updated_at"))

    second = import_customers(path)

    assert (first.created, second.created, second.updated, second.unchanged) == (3, 0, 0, 3)
    assert (Customer.objects.count(), CustomerEvent.objects.count(), Journey.objects.count()) == counts
    assert dict(Customer.objects.values_list("msisdn", "updated_at")) == stamps
    assert AuditEntry.objects.filter(verb="import.customers").count() == 2
    assert AuditEntry.objects.filter(verb="import.customers").first().after["unchanged"] == 3


def test_a_changed_row_updates_the_customer_once_and_records_what_changed(province, tmp_path):
    write_csv(tmp_path / "v1.csv", [customer_row("18600000071"), customer_row("18600000072")])
    import_customers(tmp_path / "v1.csv")
    changed = write_csv(tmp_path / "v2.csv", [
        customer_row("18600000071", package_code="A96", name="孙七"),
        customer_row("18600000072"),
    ])

    result = import_customers(changed)

    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    customer = Customer.objects.get(msisdn="18600000071")
    assert customer.package.code == "A96" and customer.name == "孙七"
    event = CustomerEvent.objects.get(customer=customer, type=EventType.CUSTOMER_UPDATED)
    assert event.payload == {"package": ["A66", "A96"], "name": ["", "孙七"]}
    assert event.idempotency_key.startswith("customer_updated:18600000071:")
    assert Journey.objects.count() == 2  # an update opens no second journey

    again = import_customers(changed)

    assert (again.updated, again.unchanged) == (0, 2)
    assert CustomerEvent.objects.filter(type=EventType.CUSTOMER_UPDATED).count() == 1


def test_moving_a_customer_to_another_city_takes_that_citys_main_store(province, tmp_path):
    import_customers(write_csv(tmp_path / "v1.csv", [customer_row("18600000075", store_code="jinan-store-2")]))
    result = import_customers(write_csv(tmp_path / "v2.csv", [customer_row("18600000075", city="青岛")]))

    customer = Customer.objects.get(msisdn="18600000075")
    assert result.updated == 1 and customer.city == province.qingdao and customer.store.code == "qingdao-store-1"
    event = CustomerEvent.objects.get(type=EventType.CUSTOMER_UPDATED)
    assert event.payload == {"city": ["jinan", "qingdao"], "store": ["jinan-store-2", "qingdao-store-1"]}


def test_an_empty_optional_cell_does_not_clear_what_is_on_file(province, tmp_path):
    """The customers file is not the VIP authority: a rating that arrived later survives a re-import."""
    path = write_csv(tmp_path / "base.csv", [customer_row("18600000078", store_code="jinan-store-2")])
    import_customers(path)
    vip = write_csv(tmp_path / "vip.csv", [{"msisdn": "18600000078", "vip_level": "silver",
                                             "rated_at": "2012-03-20"}], header=["msisdn", "vip_level", "rated_at"])
    services.vip_import(path=vip, now=NOW)

    result = import_customers(path)

    customer = Customer.objects.get(msisdn="18600000078")
    assert result.unchanged == 1 and customer.vip_tier == province.tiers["silver"]
    assert customer.store == province.second_store


@pytest.mark.parametrize(
    ("level", "tier"),
    [("gold", "gold"), ("GOLD", "gold"), ("金卡", "gold"), ("钻石卡", "diamond"), ("1", "diamond"), ("2", "gold"),
     ("3", "silver")],
)
def test_vip_level_is_a_tier_code_its_chinese_name_or_its_rank_among_enabled_tiers(province, tmp_path, level, tier):
    path = write_csv(tmp_path / "vip.csv", [customer_row("18600000081", vip_level=level)])

    result = import_customers(path)

    customer = Customer.objects.get(msisdn="18600000081")
    assert result.created == 1 and customer.vip_tier == province.tiers[tier]
    # without vip_rated_at the rating is taken to have come with the activation
    assert customer.vip_rated_at == customer.activated_at and customer.vip_rated_on == dt.date(2012, 3, 1)
    assert CustomerEvent.objects.filter(customer=customer, type=EventType.VIP_RATED).count() == 1


def test_vip_rated_at_sets_the_vip_anchor(province, tmp_path):
    path = write_csv(tmp_path / "vip.csv", [
        customer_row("18600000085", vip_level="gold", vip_rated_at="2012-03-15 08:00"),
        customer_row("18600000086", vip_level="gold", vip_rated_at="2012-02-15"),
    ])

    result = import_customers(path)

    assert Customer.objects.get(msisdn="18600000085").vip_rated_on == dt.date(2012, 3, 15)
    assert result.rejected == 1
    assert "vip_rated_at is before activation" in read_errors(tmp_path / "vip.errors.csv")[0]["reason"]


def test_a_clean_run_removes_the_error_file_of_an_earlier_run(province, tmp_path):
    path = write_csv(tmp_path / "fixme.csv", [customer_row("18600000091", city="火星")])
    assert import_customers(path).rejected == 1 and (tmp_path / "fixme.errors.csv").exists()

    write_csv(path, [customer_row("18600000091")])
    result = import_customers(path)

    assert result.rejected == 0 and result.error_path is None
    assert not (tmp_path / "fixme.errors.csv").exists()


def test_a_corrected_error_file_imports_and_its_line_and_reason_columns_are_ignored(province, tmp_path):
    import_customers(write_csv(tmp_path / "batch.csv", [customer_row("18600000095", package_code="Z99")]))
    errors = read_errors(tmp_path / "batch.errors.csv")
    errors[0]["package_code"] = "A66"
    fixed = write_csv(tmp_path / "batch.errors.csv", errors, header=[*CUSTOMER_HEADER, "line", "reason"])

    result = import_customers(fixed)

    assert (result.created, result.rejected) == (1, 0)
    assert Customer.objects.get(msisdn="18600000095").package.code == "A66"


def test_an_import_needs_a_published_playbook_and_says_so_before_writing(tmp_path, db):
    from onboard90 import testing as builders

    builders.city("jinan")
    builders.package("A66")
    path = write_csv(tmp_path / "early.csv", [customer_row("18600000099")])

    with pytest.raises(LookupError, match="no playbook is published yet"):
        import_customers(path)

    assert not Customer.objects.exists()


def test_large_files_are_written_in_chunks_and_report_progress(province, tmp_path, monkeypatch):
    monkeypatch.setattr(services, "CHUNK", 7)
    rows = [customer_row(f"1860001{n:04d}") for n in range(30)]
    seen = []

    result = services.customers_import(
        path=write_csv(tmp_path / "many.csv", rows), now=NOW, on_progress=lambda done, total: seen.append(done)
    )

    assert result.created == 30 and Journey.objects.count() == 30
    assert seen == [7, 14, 21, 28, 30]


def test_a_customer_rated_vip_in_a_later_customers_file_gets_the_vip_anchor(province, tmp_path):
    import_customers(write_csv(tmp_path / "v1.csv", [customer_row("18600000097")]))

    result = import_customers(write_csv(tmp_path / "v2.csv", [
        customer_row("18600000097", vip_level="gold", vip_rated_at="2012-03-09 08:00"),
    ]))

    customer = Customer.objects.get(msisdn="18600000097")
    assert result.updated == 1 and customer.vip_tier == province.tiers["gold"]
    assert customer.vip_rated_on == dt.date(2012, 3, 9)
    update = CustomerEvent.objects.get(customer=customer, type=EventType.CUSTOMER_UPDATED)
    assert update.payload["vip_tier"] == [None, "gold"]
    rating = CustomerEvent.objects.get(customer=customer, type=EventType.VIP_RATED)
    assert rating.at == clock.at_local(dt.date(2012, 3, 9), 8)
