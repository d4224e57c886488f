"""The booklet 《3G客户常用服务指南》 says what the customer's own package is, in the acceptance form's words, with
their city's tip, sub-clubs and venue and, for a VIP, their account manager; it is a real printable PDF with
its Chinese fonts embedded; its hand-over is recorded, bounded in time and audited; the command prints it and
refuses an unknown number with exit code 2.

The PDFs are read back as a reader would (pdftotext, pdffonts, pdftoppm from poppler-utils), on the real
catalogue rows that `onboard90 init` installs. Page 1 of each booklet is left as a PNG under
test-artifacts/guide/ for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from onboard90 import testing as builders
from onboard90.catalog.services import catalog_install
from onboard90.core import clock
from onboard90.core.models import AuditEntry
from onboard90.guide import booklet, services
from onboard90.guide.models import BookletHandover
from onboard90.org.enums import Role

pytestmark = pytest.mark.django_db

ARTIFACTS = Path(__file__).resolve().parents[4] / "test-artifacts" / "guide"
DAY0 = dt.date(2012, 3, 1)
GUIDE_ACTS = ["channels_notice", "billing_notice", "data_usage_notice"]


def _tools_missing() -> str | None:
    """Why the booklets cannot be read back here (poppler-utils, the CJK fonts: the machine's setup, which
    `.ci/run` installs), or None."""
    if shutil.which("pdftotext") is None:
        return "needs pdftotext, pdffonts and pdftoppm (apt-get install poppler-utils)"
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False)
    if "Noto" not in fonts.stdout:
        return "needs the Noto CJK fonts the booklet embeds (apt-get install fonts-noto-cjk)"
    return None


# As every test that needs a part of the machine: skipped with the reason, which under CI=true fails the run.
if (_missing := _tools_missing()) is not None:
    pytest.skip(_missing, allow_module_level=True)


@pytest.fixture
def province():
    """济南 and 青岛, the shipped catalogue (packages, VIP tiers, channels, payment methods, surge causes), the
    default playbook, a clerk of each city and a 济南 account manager with a name and work phone."""
    jinan, qingdao = builders.city("jinan"), builders.city("qingdao")
    catalog_install()
    builders.playbook_version()
    return {
        "jinan": jinan,
        "qingdao": qingdao,
        "clerk": builders.staff("jn_clerk", role=Role.STORE_CLERK, city_obj=jinan),
        "qd_clerk": builders.staff("qd_clerk", role=Role.STORE_CLERK, city_obj=qingdao),
        "manager": builders.staff(
            "jn_am", role=Role.ACCOUNT_MANAGER, city_obj=jinan, display_name="李娜", phone="18653100042"
        ),
    }


def _customer(city, package_code: str, **fields):
    return builders.customer(city_obj=city, activated_on=DAY0, package_code=package_code, **fields)


def _text(pdf: bytes) -> str:
    """The PDF's text in reading order (pdftotext -raw), without the spaces and line breaks it puts into
    Chinese runs."""
    done = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return re.sub(r"\s+", "", done.stdout.decode("utf-8"))


def _save(name: str, pdf: bytes) -> Path:
    """The PDF and its first page as a PNG under test-artifacts/guide/; returns the PNG."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.pdf"
    path.write_bytes(pdf)
    page_1 = ARTIFACTS / f"{name}-p1"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", path, page_1], check=True
    )
    return page_1.with_suffix(".png")


def test_a_c_plan_customers_booklet_has_their_local_minutes_half_first_month_and_citys_tip(province):
    customer = builders.customer(
        city_obj=province["jinan"], activated_on=DAY0, package_code="C46", first_month="half", name="王小明"
    )
    pdf = booklet.render_booklet(customer)
    text = _text(pdf)
    png = _save("c46-jinan-half", pdf)

    assert pdf.startswith(b"%PDF") and png.stat().st_size > 10_000
    assert "3G客户常用服务指南" in text and "王**" in text and customer.masked_msisdn in text
    assert "王小明" not in text and customer.msisdn not in text  # masked on paper too
    assert "沃3G基本套餐C计划46元" in text and "月费46元" in text
    assert "本地通话260分钟" in text and "国内流量40MB" in text
    assert "长途及漫游通话0.25元/分钟" in text and "本地通话0.2元/分钟" in text
    # The first month in the form's words, with what it means for this package in figures.
    assert "套餐减半" in text and "月费23元" in text and "本地通话130分钟、流量20MB" in text
    assert "全月套餐" not in text and "套餐包外资费" not in text
    # Not another package's figures.
    for other in ("66元", "96元", "380分钟", "300MB", "每月最低消费"):
        assert other not in text, other
    # The city's own data tip, sub-clubs and venue; the 5 surge situations; the 8 payment methods.
    assert "济南提示：1G流量约可浏览网页3000页；泉城广场等热点区域可连WLAN，省流量。" in text
    assert "摄影俱乐部" in text and "济南3G客户俱乐部（泉城路营业厅内）" in text
    assert all(cause in text for cause in ("自动更新与应用下载", "手机开热点共享上网", "WLAN断开后自动切换到3G"))
    assert "8种缴费方式" in text and "银行代扣（托收）" in text and "手机营业厅及第三方支付" in text
    assert "HF" in text and "10010" in text and "www.10010.com" in text
    assert "[U]" not in text and "未经证实" not in text  # the catalogue's own confidence remarks
    assert "专属客户经理" not in text  # not a VIP: no such page
    assert re.search(r"第\d+页/共\d+页", text)


def test_the_20_yuan_cards_booklet_speaks_of_a_minimum_spend_and_the_data_stop(province):
    customer = _customer(province["qingdao"], "P20", product="prepaid", first_month="full")
    text = _text(booklet.render_booklet(customer))

    assert "沃3G预付费20元卡" in text and "每月最低消费20元" in text
    assert "本地通话0.1元/分钟" in text and "长途及漫游通话0.25元/分钟" in text and "流量0.2元/MB" in text
    assert "当月流量用满100MB时停止上网" in text and "按实际使用计费" in text
    assert "全月套餐" not in text and "套餐减半" not in text  # the card's first month is charged on actual use
    assert "充值与查询" in text and "余额不足会停机" in text
    assert "青岛提示：在家和单位尽量连WLAN" in text and "帆船俱乐部" in text
    assert "济南提示" not in text


def test_a_data_cards_booklet_has_data_and_no_calls(province):
    customer = _customer(province["jinan"], "D80", first_month="outside")
    text = _text(booklet.render_booklet(customer))

    assert "3G无线上网卡80元" in text and "月费80元" in text and "国内流量1GB" in text and "流量0.1元/MB" in text
    assert "元/分钟" not in text and "通话0" not in text
    assert "当月流量用满15GB时停止上网" in text and "自动按该档收费" in text
    assert "入网当月流量按0.1元/MB计费，费用满80元后按套餐收费" in text
    assert "套餐包外资费" not in text


def test_a_vips_booklet_names_the_account_manager_and_the_tiers_benefits(province):
    customer = builders.customer(
        city_obj=province["jinan"], activated_on=DAY0, package_code="A186", first_month="full", name="欧阳娜娜",
        vip_tier=builders.vip_tier("gold"), account_manager=province["manager"],
    )
    pdf = booklet.render_booklet(customer)
    text = _text(pdf)
    _save("a186-vip-jinan-full", pdf)

    assert "欧***" in text and "金卡客户" in text
    assert "您的专属客户经理" in text and "李娜" in text and "18653100042" in text
    assert "10018VIP热线优先接入" in text and "营业厅VIP专席优先办理" in text
    assert "国内通话510分钟" in text and "国内流量650MB" in text and "国内通话0.15元/分钟" in text
    assert "全月套餐" in text and "从入网当天起收取全月月费186元" in text
    assert "长途及漫游" not in text  # the same rate as national calls: nothing to add


def test_a_vip_without_a_manager_yet_is_told_one_is_coming(province):
    customer = _customer(province["jinan"], "B126", vip_tier=builders.vip_tier("silver"))
    text = _text(booklet.render_booklet(customer))
    assert "您的专属客户经理" in text and "3日内为您安排专属客户经理" in text


def test_the_out_of_package_first_month_says_no_fee_and_the_rates(province):
    customer = _customer(province["jinan"], "A66", first_month="outside")
    content = booklet.booklet_for(customer)
    assert content.first_month["label"] == "套餐包外资费"
    assert "不收月费" in content.first_month["meaning"] and "国内通话0.2元/分钟" in content.first_month["meaning"]
    assert ("短信", "240条") in content.package_rows


def test_the_cjk_fonts_are_embedded_subsets(province, tmp_path):
    customer = builders.customer(city_obj=province["jinan"], activated_on=DAY0, package_code="C46")
    pdf = booklet.render_booklet(customer)
    path = tmp_path / "booklet.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True)
    rows = [line.split() for line in done.stdout.decode().splitlines()[2:] if line.strip()]
    cjk = [row for row in rows if "CJK" in row[0]]
    assert {("Sans" in row[0]) for row in cjk} == {True, False}, rows  # the sans text and the serif titles
    # name type encoding emb sub uni object-ID: every CJK font is an embedded subset with a ToUnicode map.
    assert all(row[-5:-2] == ["yes", "yes", "yes"] for row in cjk), rows
    assert len(pdf) < 1_500_000  # subsets, not the 20 MB font collections


def test_the_fonts_and_stylesheet_are_loaded_once_per_process_not_per_booklet(province):
    # Loading the CJK fonts is most of a first render; a clerk printing booklets all day pays it once. (How long
    # a render takes is the benchmark's business, not a test's.)
    customer = builders.customer(city_obj=province["jinan"], activated_on=DAY0, package_code="C46")
    booklet._stylesheet.cache_clear()
    booklet.render_booklet(customer)
    booklet.render_booklet(customer)
    booklet.render_booklet(customer)
    loaded = booklet._stylesheet.cache_info()
    assert (loaded.misses, loaded.hits) == (1, 2)


# --- the hand-over ---------------------------------------------------------------------------------------


def test_the_hand_over_records_the_booklets_acts_and_is_audited(province):
    customer = builders.customer(city_obj=province["jinan"], activated_on=DAY0, package_code="C46")
    at, now = clock.at_local(DAY0, 10, 20), clock.at_local(DAY0, 10, 30)

    handover = services.guide_hand_over(customer=customer, handed_over_by=province["clerk"], at=at, now=now)

    row = BookletHandover.objects.get()
    assert row.pk == handover.pk and row.customer == customer and row.handed_over_by == province["clerk"]
    assert row.handed_at == at and row.entered_at == now and row.handed_over_label == "jn_clerk"
    assert row.journey_action_codes == GUIDE_ACTS
    audit = AuditEntry.objects.get(verb="guide.hand_over")
    assert audit.actor == province["clerk"] and audit.object_id == str(row.pk) and audit.claimed_at == at
    assert audit.after["journey_action_codes"] == GUIDE_ACTS
    assert audit.after["msisdn"] == customer.masked_msisdn


def test_a_hand_over_in_the_future_or_before_activation_is_refused(province):
    customer = builders.customer(city_obj=province["jinan"], activated_on=DAY0)
    now = clock.at_local(DAY0, 12)
    for at in (now + dt.timedelta(minutes=1), clock.at_local(DAY0, 9, 59)):
        with pytest.raises(services.HandoverRefused):
            services.guide_hand_over(customer=customer, handed_over_by=province["clerk"], at=at, now=now)
    assert not BookletHandover.objects.exists()
    assert not AuditEntry.objects.filter(verb="guide.hand_over").exists()


def test_a_hand_over_names_someone_of_the_customers_city_or_a_feed(province):
    customer = builders.customer(city_obj=province["jinan"], activated_on=DAY0)
    now = clock.at_local(DAY0, 12)
    with pytest.raises(services.HandoverRefused, match="qd_clerk"):
        services.guide_hand_over(customer=customer, handed_over_by=province["qd_clerk"], now=now)
    with pytest.raises(services.HandoverRefused, match="--as"):
        services.guide_hand_over(customer=customer, handed_over_by=None, now=now)

    fed = services.guide_hand_over(customer=customer, handed_over_by=None, source="store-pos", now=now)
    assert fed.handed_over_label == "store-pos" and fed.handed_at == now
    assert AuditEntry.objects.get(verb="guide.hand_over").actor_label == "store-pos"


def test_a_customer_without_a_journey_gets_the_booklet_and_a_hand_over_delivering_no_act(province):
    customer = builders.customer(city_obj=province["jinan"], activated_on=DAY0, start_journey=False)
    assert "济南提示" in _text(booklet.render_booklet(customer))  # the current playbook's local content
    now = clock.at_local(DAY0, 12)
    handover = services.guide_hand_over(customer=customer, handed_over_by=province["clerk"], now=now)
    assert handover.journey_action_codes == []


# --- the command -----------------------------------------------------------------------------------------


def test_the_command_writes_the_pdf_and_records_the_hand_over(province, tmp_path):
    customer = builders.customer(city_obj=province["jinan"], activated_on=DAY0, package_code="C46")
    out = io.StringIO()
    path = tmp_path / "guide.pdf"
    call_command(
        "guide", customer.msisdn, "-o", str(path), "--handed-over", "--as", "jn_clerk",
        "--at", "2012-03-01 10:15", stdout=out,
    )
    assert path.read_bytes().startswith(b"%PDF") and "沃3G基本套餐C计划46元" in _text(path.read_bytes())
    assert customer.masked_msisdn in out.getvalue() and "channels_notice" in out.getvalue()
    assert BookletHandover.objects.get().handed_at == clock.at_local(DAY0, 10, 15)


@pytest.mark.parametrize("number", ["18699999999", "12345", "13800138000"])
def test_the_command_refuses_an_unknown_or_bad_number_with_exit_code_2(province, tmp_path, number):
    with pytest.raises(CommandError) as refused:
        call_command("guide", number, "-o", str(tmp_path / "x.pdf"), stdout=io.StringIO())
    assert refused.value.returncode == 2 and "\n" not in str(refused.value)
    assert not (tmp_path / "x.pdf").exists()


@pytest.mark.sqlite
def test_the_console_script_exits_2_for_an_unknown_number_without_a_traceback(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "ONBOARD90_VAR": str(tmp_path / "var"),
    }
    env.pop("ONBOARD90_DEBUG", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "onboard90", *args], env=env, cwd=tmp_path, capture_output=True, text=True,
            timeout=300,
        )

    assert run("init").returncode == 0
    done = run("guide", "18699999999", "-o", str(tmp_path / "x.pdf"))
    assert done.returncode == 2, done.stderr
    assert "18699999999" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1
