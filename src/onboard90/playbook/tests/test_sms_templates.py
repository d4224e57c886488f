"""Every SMS of the default playbook renders for every city with the context the engine provides, and fits."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from onboard90.playbook import content, schema, services, templating

# Built by hand, shaped exactly as the engine's context (see default.yaml's header): a Jinan A66 customer.
CONTEXT = {
    "customer": {"name": "王芳", "msisdn_masked": "186****0042", "city": "济南", "store": "济南经十路营业厅"},
    "package": {
        "code": "A66",
        "name": "沃3G基本套餐A计划66元",
        "family": "A",
        "product": "postpaid",
        "monthly_fee": Decimal("66.00"),
        "voice_min": 50,
        "data_mb": 300,
        "sms": 240,
        "voice_rate": Decimal("0.2000"),
        "data_rate": Decimal("0.3000"),
        "sms_rate": Decimal("0.1000"),
        "voice_scope": "国内",
        "long_distance_rate": None,
        "minimum_spend": False,
        "data_cap_mb": None,
    },
    "first_month": "套餐减半",
    "first_month_code": "half",
    "vip": {"tier": "金卡", "code": "gold", "benefits": ["客户经理服务", "10018 VIP热线优先接入", "营业厅VIP专席优先办理"]},
    "manager": {"name": "刘洋", "phone": "18605310088"},
    "bill": {"month": "2012-03", "amount": Decimal("41.30")},
    # Mirrors the shipped reference data (catalog), including names that contain 、 themselves.
    "channels": [
        {"rank": 1, "name": "客服热线", "identifier": "10010"},
        {"rank": 2, "name": "VIP客户服务热线", "identifier": "10018"},
        {"rank": 3, "name": "网上营业厅", "identifier": "www.10010.com"},
        {"rank": 4, "name": "短信营业厅", "identifier": "10010"},
        {"rank": 5, "name": "自有营业厅", "identifier": ""},
    ],
    "payment_methods": [
        {"rank": 1, "name": "自有营业厅柜台缴费", "identifier": ""},
        {"rank": 2, "name": "充值卡（一卡充）", "identifier": "10011"},
        {"rank": 3, "name": "网上营业厅缴费", "identifier": "www.10010.com"},
        {"rank": 4, "name": "银行代扣（托收）", "identifier": ""},
        {"rank": 5, "name": "银行柜台、ATM、网上银行及电话银行", "identifier": ""},
        {"rank": 6, "name": "代理点及合作营业厅（空中充值）", "identifier": ""},
        {"rank": 7, "name": "自助缴费终端", "identifier": ""},
        {"rank": 8, "name": "手机营业厅及第三方支付", "identifier": ""},
    ],
    "data_surge_causes": [
        {"rank": 1, "name": "自动更新与应用下载", "identifier": ""},
        {"rank": 2, "name": "后台常驻应用", "identifier": ""},
        {"rank": 3, "name": "在线视频、音乐与大文件下载", "identifier": ""},
        {"rank": 4, "name": "手机开热点共享上网", "identifier": ""},
        {"rank": 5, "name": "WLAN断开后自动切换到3G", "identifier": ""},
    ],
}
# A customer the engine knows little about: no name on file, not VIP, no manager, no bill yet.
SPARSE = {**copy.deepcopy(CONTEXT), "vip": None, "manager": None, "bill": None}
SPARSE["customer"]["name"] = ""

PLAYBOOK = schema.validate(services.default_document())
CITIES = [None, *sorted(PLAYBOOK.city_overrides)]
SMS_ACTIONS = [action.code for action in PLAYBOOK.actions if action.sms is not None]


def _render(code: str, city: str | None, base: dict) -> str:
    template = content.sms_template_for(PLAYBOOK, code, city)
    return templating.render(template, {**base, "local": content.locals_for(PLAYBOOK, city)})


@pytest.mark.parametrize("city", CITIES)
@pytest.mark.parametrize("code", SMS_ACTIONS)
def test_every_sms_renders_for_every_city_and_fits_in_two_parts(code, city):
    text = _render(code, city, CONTEXT)
    message = PLAYBOOK.sms_signature + text
    if PLAYBOOK.action(code).sms.message_class == "marketing":
        message += PLAYBOOK.opt_out_suffix
    assert "{{" not in text and "{%" not in text
    assert PLAYBOOK.sms_signature not in text and PLAYBOOK.opt_out_suffix not in text
    assert 20 <= len(message) and templating.segments(message) <= 2, message


@pytest.mark.parametrize("city", CITIES)
@pytest.mark.parametrize("code", SMS_ACTIONS)
def test_every_sms_renders_for_a_customer_without_name_vip_or_bill(code, city):
    text = _render(code, city, SPARSE)
    assert text and "None" not in text


def test_there_are_ten_sms_notices():
    assert SMS_ACTIONS == [
        "tariff_notice",
        "channels_notice",
        "billing_notice",
        "data_usage_notice",
        "tier_benefits_notice",
        "first_bill_notice",
        "vas_recommendation",
        "package_fit_coaching",
        "onboarding_survey",
        "data_surge_alert",
    ]


def test_tariff_sms_is_personalised_from_the_customers_package():
    text = _render("tariff_notice", "jinan", CONTEXT)
    for part in ["王芳", "沃3G基本套餐A计划66元", "月费66元", "通话50分钟", "流量300MB", "短信240条"]:
        assert part in text
    for rate in ["0.2元/分钟", "0.1元/条", "0.3元/MB", "入网当月按“套餐减半”：月费和套餐内容均减半"]:
        assert rate in text


def test_tariff_sms_leaves_out_allowances_a_data_card_does_not_have():
    datacard = {
        **CONTEXT["package"],
        "name": "3G无线上网卡80元套餐",
        "family": "datacard",
        "monthly_fee": Decimal("80"),
        "voice_min": 0,
        "sms": 0,
        "data_mb": 1024,
    }
    text = _render("tariff_notice", None, {**CONTEXT, "package": datacard})
    assert "流量1024MB" in text and "分钟、" not in text and "短信0条" not in text


def test_a_customer_without_a_name_is_greeted_politely():
    assert _render("tariff_notice", None, SPARSE).startswith("尊敬的客户您好")


def test_tier_notice_names_the_manager_or_promises_one_within_three_days():
    assert "刘洋" in _render("tier_benefits_notice", None, CONTEXT)
    assert "3日内" in _render("tier_benefits_notice", None, {**CONTEXT, "manager": None})


def test_first_bill_sms_states_the_amount_due():
    text = _render("first_bill_notice", None, CONTEXT)
    assert "41.3元" in text and "2012-03" in text


def test_data_usage_sms_carries_each_citys_own_data_tip():
    default = _render("data_usage_notice", None, CONTEXT)
    jinan = _render("data_usage_notice", "jinan", CONTEXT)
    qingdao = _render("data_usage_notice", "qingdao", CONTEXT)
    assert PLAYBOOK.locals["data_tip"] in default
    assert PLAYBOOK.city_overrides["jinan"].locals["data_tip"] in jinan
    assert PLAYBOOK.city_overrides["qingdao"].locals["data_tip"] in qingdao
    assert jinan.startswith("流量提示") and qingdao.startswith("流量提示")


def test_billing_sms_counts_the_payment_methods_it_is_given():
    text = _render("billing_notice", None, CONTEXT)
    assert "缴费方式共8种" in text and "自有营业厅柜台缴费" in text


def test_data_usage_sms_lists_the_five_surge_causes():
    text = _render("data_usage_notice", None, CONTEXT)
    assert all(cause["name"] in text for cause in CONTEXT["data_surge_causes"])


def test_channels_sms_names_the_four_channels_of_the_plan():
    text = _render("channels_notice", None, CONTEXT)
    assert all(channel in text for channel in ["网上营业厅", "短信营业厅", "客服热线", "营业厅"])
