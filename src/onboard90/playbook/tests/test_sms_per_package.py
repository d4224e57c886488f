"""Every SMS the default playbook can send, for every package of the shipped catalogue and every first-month
option, says what that customer's package really is: the figures are checked against the catalogue.

The packages are the catalogue's own rows (catalog/data/packages.csv, as `onboard90 init` installs them) and
the context is built by the function the dispatcher uses (`messaging.context.package_context`), so a package
added to the catalogue is checked here without touching this file.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from onboard90.catalog import services as catalog_services
from onboard90.catalog.models import Package
from onboard90.customers.enums import FirstMonth
from onboard90.journeys.rules import audience
from onboard90.messaging.context import package_context
from onboard90.playbook import content, schema, services, templating

PLAYBOOK = schema.validate(services.default_document())
PACKAGES = [Package(**row) for row in catalog_services._package_rows()]
OPTIONS = list(FirstMonth)
PLAN_WORDS = {FirstMonth.FULL: "全月套餐", FirstMonth.HALF: "套餐减半", FirstMonth.OUTSIDE: "套餐包外资费"}
SMS_ACTIONS = [action for action in PLAYBOOK.actions if action.sms is not None]
CITIES = [None, *sorted(PLAYBOOK.city_overrides)]


def _money(value) -> str:
    return templating.money(value)


def _context(package: Package, option: FirstMonth, city: str | None = "jinan") -> dict:
    context = content.sample_context(PLAYBOOK, city, family=package.family)
    context.update(
        package=package_context(package),
        first_month=PLAN_WORDS[option],
        first_month_code=option.value,
        bill={"month": "2012-04", "amount": Decimal("58.40")},
    )
    return context


def _render(action: schema.Action, package: Package, option: FirstMonth, city: str | None = "jinan") -> str:
    template = content.sms_template_for(PLAYBOOK, action, city, package.family)
    return templating.render(template, _context(package, option, city))


def _facts(package: Package, **extra) -> dict:
    facts = {
        "vip": False, "number_changed": False, "marketing_opt_out": False, "postpaid": package.product == "postpaid",
        "product": package.product, "handset_os": "android", "city": "jinan", "package": package.code,
        "package_family": package.family, "vip_level": "", "first_month": "full", "vip_rank": 0,
        "monthly_fee": float(package.monthly_fee),
    }
    facts.update(extra)
    return facts


def _reaches(action: schema.Action, package: Package, **facts) -> bool:
    return audience.predicate(action.audience)(_facts(package, **facts))


def test_the_shipped_catalogue_has_every_family():
    assert {p.family for p in PACKAGES} == {"A", "B", "C", "prepaid", "datacard"}


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.code)
def test_every_sms_renders_for_every_package_and_option_in_two_parts(package):
    for action, option, city in itertools.product(SMS_ACTIONS, OPTIONS, CITIES):
        text = _render(action, package, option, city)
        message = PLAYBOOK.sms_signature + text
        if action.sms.message_class == "marketing":
            message += PLAYBOOK.opt_out_suffix
        assert "None" not in text and "{{" not in text, (action.code, text)
        assert templating.segments(message) <= 2, (action.code, option, city, len(message), message)


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.code)
def test_tariff_sms_states_the_catalogues_figures_in_the_customers_terms(package):
    action = PLAYBOOK.action("tariff_notice")
    for option in OPTIONS:
        text = _render(action, package, option)
        fee = _money(package.monthly_fee)
        if package.minimum_spend:
            assert f"每月最低消费{fee}元" in text and "月费" not in text
        else:
            assert f"月费{fee}元" in text
        if package.voice_scope == "":  # a data card: nothing about calls at all
            assert "通话" not in text and "元/分钟" not in text
        else:
            scope = {"national": "国内", "local": "本地"}[package.voice_scope]
            assert f"{scope}通话{_money(package.voice_rate)}元/分钟" in text
            if package.voice_min:
                assert f"{scope}通话{package.voice_min}分钟" in text
            if package.voice_scope == "local":
                assert "国内通话" not in text
        if package.long_distance_rate is not None:
            assert f"长途及漫游{_money(package.long_distance_rate)}元/分钟" in text
        if package.data_mb:
            assert templating.data_size(package.data_mb) in text
        if package.sms:
            assert f"短信{package.sms}条" in text
        assert f"流量{_money(package.data_rate)}元/MB" in text or f"超出后{_money(package.data_rate)}元/MB" in text
        if package.data_cap_mb:
            assert f"当月流量满{templating.data_size(package.data_cap_mb)}停止上网" in text


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.code)
def test_tariff_sms_names_the_first_month_in_the_plans_words_where_it_applies(package):
    action = PLAYBOOK.action("tariff_notice")
    for option in OPTIONS:
        text = _render(action, package, option)
        if package.family == "datacard":  # a data card's first month has its own rule, whatever the form says
            assert not any(word in text for word in PLAN_WORDS.values())
            assert f"入网当月流量按{_money(package.data_rate)}元/MB计费" in text
        elif package.minimum_spend:
            assert "入网当月按实际使用计费" in text
        else:
            assert f"“{PLAN_WORDS[option]}”" in text
            others = [word for key, word in PLAN_WORDS.items() if key != option]
            assert not any(word in text for word in others)


@pytest.mark.parametrize("package", [p for p in PACKAGES if p.product == "postpaid"], ids=lambda p: p.code)
def test_first_bill_sms_explains_the_customers_own_first_month_option(package):
    action = PLAYBOOK.action("first_bill_notice")
    fee = package.monthly_fee
    for option in OPTIONS:
        text = _render(action, package, option)
        assert "应缴58.4元" in text and "2012-04" in text
        if package.family == "datacard":
            assert f"满{_money(fee)}元后按套餐收费" in text
            continue
        assert f"“{PLAN_WORDS[option]}”" in text
        if option == FirstMonth.FULL:
            assert f"收全月月费{_money(fee)}元" in text and "不同属正常" not in text
        elif option == FirstMonth.HALF:
            assert f"月费减半为{_money(fee / 2)}元" in text
        else:
            assert "不收月费" in text


def test_no_sms_prints_the_first_month_as_a_bare_code_word():
    for package, action, option in itertools.product(PACKAGES, SMS_ACTIONS, OPTIONS):
        text = _render(action, package, option)
        for bare in ("“全月”", "“减半”", "“包外”", "全月/减半/包外"):
            assert bare not in text, (package.code, action.code, text)


def test_the_first_bill_is_for_post_paid_customers_only():
    first_bill = PLAYBOOK.action("first_bill_notice")
    for package in PACKAGES:
        assert _reaches(first_bill, package) == (package.product == "postpaid"), package.code


@pytest.mark.parametrize("code", ["internet_coaching", "number_change_coaching", "first_callback"])
def test_a_data_card_gets_no_voice_or_smartphone_work(code):
    action = PLAYBOOK.action(code)
    for package in PACKAGES:
        reached = _reaches(action, package, number_changed=True)
        assert reached == (package.family != "datacard"), (code, package.code)


def test_flow_pack_offer_skips_data_cards_and_the_20_yuan_card():
    offer = PLAYBOOK.action("vas_recommendation")
    reached = {p.code for p in PACKAGES if _reaches(offer, p)}
    assert "P20" not in reached and not any(code.startswith("D") for code in reached)
    assert {"A66", "B96", "C46", "P36"} <= reached
