"""The booklet 《3G客户常用服务指南》 made for one customer, as a printable A5 PDF.

The plan moves three of stage 1's notices (service channels, how to check and pay charges, what makes 3G data
use jump) onto a printed booklet "to lighten the frontline's load"; the store hands it over with the tariff
notice. A booklet that lists every package tells the customer nothing about their own, so this one is made
per customer: their package with its real figures and first-month option (全月套餐 / 套餐减半 / 套餐包外资费)
in the acceptance form's words, their city's data tip, sub-clubs and club venue, and for a VIP the account
manager. The figures come from the same context the SMS templates read (`messaging.context`), so the
booklet and the tariff SMS can never disagree.

Chinese only, like the SMS: it is a document for a Chinese customer, printed in a Chinese store, whatever
language the staff member's screen is in. Its wording therefore lives in the template and here, not in the
translation catalogue (labels of choices are read in Chinese through `messaging.context`).

`booklet_for(customer)` builds the content (a plain dataclass, testable without a PDF);
`render_booklet(customer)` lays it out with WeasyPrint, fonts embedded (subsets of Noto Sans / Serif CJK SC).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

from onboard90.catalog.models import ReferenceItem, ReferenceKind
from onboard90.core import clock
from onboard90.customers.enums import FirstMonth
from onboard90.customers.models import Customer
from onboard90.journeys.models import Journey
from onboard90.messaging.context import customer_context, reference_lists
from onboard90.playbook.content import locals_for
from onboard90.playbook.selectors import current_version, playbook_of
from onboard90.playbook.templating import data_size as data_label
from onboard90.playbook.templating import money as money_label

TITLE = "3G客户常用服务指南"
TEMPLATE = "guide/booklet.html"
STYLESHEET = Path(__file__).resolve().parent / "templates" / "guide" / "booklet.css"

# How to check charges and usage (查费方法, telecom-facts 4.1 and the SMS-hall codes of 4.3 that are confirmed):
# not catalogue rows, because they are the operator's fixed service numbers rather than facts a city edits.
CHARGE_CHECKS: tuple[tuple[str, str], ...] = (
    ("短信查询", "发短信到10010：HF 查本月话费，YE 查余额，CXLL 查已用流量。"),
    ("电话查询", "拨打10010，按语音提示查询话费、余额和套餐使用情况。"),
    ("网上查询", "登录网上营业厅 www.10010.com，查询话费、账单和详单。"),
    ("营业厅查询", "凭本人有效身份证件到营业厅查询、打印账单和详单。"),
)

# The club's services (推荐3G客户俱乐部, PLAYBOOK.md stage 1).
CLUB_SERVICES: tuple[str, ...] = ("手机激活", "电话号码转存", "软件安装", "3G课堂")

# Payment channels the plan asks stores to steer customers towards (引导客户使用电子自助缴费).
SELF_SERVICE_PAYMENTS = frozenset({"online-hall", "bank-withholding", "mobile-third-party", "kiosk"})


@dataclass(frozen=True)
class Booklet:
    """The content of one customer's booklet, every value already in the customer's words."""

    title: str
    issued_on: dt.date
    customer: dict[str, str]  # greeting_name, name_masked, msisdn_masked, city, store, activated_on
    package: dict[str, Any]  # messaging.context.package_context, plus fee_label / fee_text
    package_rows: list[tuple[str, str]]  # 套餐内容: (label, value)
    rate_rows: list[tuple[str, str]]  # 套餐外资费: (label, value)
    package_notes: list[str]  # data stop, automatic tier move, minimum spend…
    first_month: dict[str, str]  # label (the form's words, "" when the option does not apply), code, meaning
    prepaid: bool
    channels: list[dict[str, Any]]
    payment_methods: list[dict[str, Any]]
    charge_checks: list[dict[str, str]]
    data_surge_causes: list[dict[str, Any]]
    data_tip: str
    club: dict[str, Any]  # venue, subclubs [list], services [list]
    vip: dict[str, Any] | None  # messaging.context.vip_context
    manager: dict[str, str] | None  # messaging.context.manager_context
    sections: list[dict[str, str]] = field(default_factory=list)  # the contents page: anchor, number, title


def booklet_for(customer: Customer, *, today: dt.date | None = None) -> Booklet:
    """Everything one customer's booklet says, read from their package, city, tier and manager."""
    context = customer_context(
        customer, bill=None, local=_locals(customer), refs=_with_details(reference_lists())
    )
    package = context["package"]
    prepaid = customer.product == "prepaid"
    vip = context["vip"]
    if vip is not None:  # one benefit a line: the catalogue's closing 。 has no place in a list
        vip = {**vip, "benefits": [item.rstrip("。") for item in vip["benefits"]]}
    numbers = ["一", "二", "三", "四", "五", "六"]
    titles = [
        ("package", "您的套餐"),
        ("channels", "服务渠道"),
        ("billing", "充值与查询" if prepaid else "缴费与查询"),
        ("data", "流量提示"),
        ("club", "3G客户俱乐部"),
    ]
    if vip is not None:
        titles.append(("manager", "您的专属客户经理"))
    local = context["local"]
    return Booklet(
        title=TITLE,
        issued_on=today or clock.today(),
        customer={
            "greeting_name": customer.masked_name or "尊敬的客户",
            "name_masked": customer.masked_name,
            "msisdn_masked": context["customer"]["msisdn_masked"],
            "city": context["customer"]["city"],
            "store": context["customer"]["store"],
            "activated_on": _chinese_date(customer.activated_on),
        },
        package={**package, **_fee(package)},
        package_rows=_included(package),
        rate_rows=_rates(package, video_rate=customer.package.video_rate),
        package_notes=_package_notes(package),
        first_month=_first_month(package, code=context["first_month_code"], label=context["first_month"]),
        prepaid=prepaid,
        channels=context["channels"],
        payment_methods=context["payment_methods"],
        charge_checks=[{"name": name, "text": text} for name, text in CHARGE_CHECKS],
        data_surge_causes=context["data_surge_causes"],
        data_tip=local.get("data_tip", ""),
        club={
            "venue": local.get("service_point", ""),
            "subclubs": [name.strip() for name in local.get("club_subclubs", "").split("、") if name.strip()],
            "services": list(CLUB_SERVICES),
        },
        vip=vip,
        manager=context["manager"] if vip is not None else None,
        sections=[
            {"anchor": anchor, "number": number, "title": title}
            for number, (anchor, title) in zip(numbers, titles, strict=False)
        ],
    )


def render_booklet(customer: Customer, *, today: dt.date | None = None) -> bytes:
    """The customer's booklet as PDF bytes (A5, Chinese, CJK fonts embedded as subsets)."""
    # heavy (WeasyPrint, ~1.5 s): only the booklet's PDF needs it, and the customer page imports this module
    from weasyprint import HTML

    booklet = booklet_for(customer, today=today)
    with translation.override("zh-hans"):
        html = render_to_string(TEMPLATE, {"booklet": booklet})
    stylesheet, font_config = _stylesheet()
    document = HTML(string=html, base_url=str(STYLESHEET.parent))
    return document.write_pdf(stylesheets=[stylesheet], font_config=font_config)


@functools.lru_cache(maxsize=1)
def _stylesheet():
    """The parsed stylesheet and its font configuration, once per process: parsing the CSS and loading the
    system's fonts is most of a first render's time, and neither changes between booklets."""
    # heavy (WeasyPrint): see render_booklet
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration  # WeasyPrint: see above

    font_config = FontConfiguration()
    return CSS(filename=str(STYLESHEET), font_config=font_config), font_config


# --- the pieces -----------------------------------------------------------------------------------------


def _locals(customer: Customer) -> dict[str, str]:
    """The city's local content from the playbook the customer's journey runs on (the current one when the
    customer has no journey), as the SMS read it."""
    journey = Journey.objects.select_related("playbook_version").filter(customer=customer).first()
    version = journey.playbook_version if journey is not None else current_version()
    return locals_for(playbook_of(version), customer.city.code)


def _with_details(lists: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """`reference_lists` plus what a printed page has room for and an SMS has not: each item's `detail` (what
    a channel can do, how a method works) and whether it is self-service payment, matched by kind and name."""
    kinds = {
        "channels": ReferenceKind.CHANNEL,
        "payment_methods": ReferenceKind.PAYMENT_METHOD,
        "data_surge_causes": ReferenceKind.DATA_SURGE,
    }
    extra = {
        (kind, name): (code, detail)
        for kind, name, code, detail in ReferenceItem.objects.values_list("kind", "name", "code", "detail")
    }
    enriched: dict[str, list[dict[str, Any]]] = {}
    for key, items in lists.items():
        enriched[key] = []
        for item in items:
            code, detail = extra.get((kinds[key], item["name"]), ("", ""))
            detail = _for_customers(detail)
            self_service = key == "payment_methods" and code in SELF_SERVICE_PAYMENTS
            enriched[key].append({**item, "detail": detail, "self_service": self_service})
    return enriched


# The catalogue's confidence remarks (“（2012年网址未经证实 [U]）”, a bare [P]) are for the operator who edits it,
# not for a customer reading a leaflet.
_CONFIDENCE_REMARK = re.compile(r"（[^（）]*(?:未经证实|\[[UPC]\])[^（）]*）|\s*\[[UPC]\]")


def _for_customers(detail: str) -> str:
    return _CONFIDENCE_REMARK.sub("", detail).strip()


def _chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _yuan(value: Decimal | None) -> str:
    return f"{money_label(value)}元"


def _fee(package: dict[str, Any]) -> dict[str, str]:
    if package["minimum_spend"]:
        return {"fee_label": "每月最低消费", "fee_text": _yuan(package["monthly_fee"])}
    return {"fee_label": "月费", "fee_text": _yuan(package["monthly_fee"])}


def _included(package: dict[str, Any]) -> list[tuple[str, str]]:
    """套餐内容: what the monthly fee includes; nothing for a minimum spend that includes no allowance."""
    rows = []
    if package["voice_min"]:
        rows.append((f"{package['voice_scope']}通话".strip(), f"{package['voice_min']}分钟"))
    if package["data_mb"]:
        rows.append(("国内流量", data_label(package["data_mb"])))
    if package["sms"]:
        rows.append(("短信", f"{package['sms']}条"))
    return rows


def _rates(package: dict[str, Any], *, video_rate: Decimal | None) -> list[tuple[str, str]]:
    """套餐外资费 (or, with a minimum spend, the rates themselves): calls in the package's own scope, the
    long-distance and roaming rate where it differs, video calls where the package has voice, SMS, data."""
    rows = []
    if package["voice_scope"]:
        rows.append((f"{package['voice_scope']}通话", f"{money_label(package['voice_rate'])}元/分钟"))
        if package["long_distance_rate"] is not None:
            rows.append(("长途及漫游通话", f"{money_label(package['long_distance_rate'])}元/分钟"))
        if video_rate:
            rows.append(("视频通话", f"{money_label(video_rate)}元/分钟"))
    rows.append(("短信", f"{money_label(package['sms_rate'])}元/条"))
    rows.append(("流量", f"{money_label(package['data_rate'])}元/MB"))
    return rows


def _package_notes(package: dict[str, Any]) -> list[str]:
    notes = []
    if package["minimum_spend"]:
        fee = _yuan(package["monthly_fee"])
        notes.append(f"{fee}是每月最低消费：当月实际使用不足{fee}的，按{fee}收取。")
    if package["family"] == "datacard":
        notes.append("上网卡只能上网，不能通话。当月费用达到更高一档套餐的月费时，自动按该档收费，次月恢复原套餐。")
    if package["data_cap_mb"]:
        notes.append(f"当月流量用满{data_label(package['data_cap_mb'])}时停止上网，次月自动恢复。")
    if package["family"] in ("A", "B", "C"):
        notes.append("套餐内的通话分钟数、流量和短信当月有效，不能结转到下月。")
    return notes


def _half(value: int) -> int:
    """Half an allowance, rounded in the customer's favour (telecom-facts 1.6)."""
    return math.ceil(value / 2)


def _first_month(package: dict[str, Any], *, code: str, label: str) -> dict[str, str]:
    """入网当月资费: the option the customer chose on the acceptance form, in its words, and what it means for
    this package in figures. The 20元 card's month is charged on actual use and a data card's by the megabyte
    up to its fee, whatever the form says: then `label` is "" and only the rule is given."""
    fee = package["monthly_fee"]
    if package["minimum_spend"]:
        return {"label": "", "code": code, "meaning": f"入网当月按实际使用计费；次月起每月最低消费{_yuan(fee)}。"}
    if package["family"] == "datacard":
        return {
            "label": "",
            "code": code,
            "meaning": (
                f"入网当月流量按{money_label(package['data_rate'])}元/MB计费，费用满{_yuan(fee)}后按套餐收费；"
                "次月起按套餐月费收取。"
            ),
        }
    if code == FirstMonth.HALF:
        parts = []
        if package["voice_min"]:
            parts.append(f"{package['voice_scope']}通话{_half(package['voice_min'])}分钟")
        if package["data_mb"]:
            parts.append(f"流量{data_label(_half(package['data_mb']))}")
        if package["sms"]:
            parts.append(f"短信{_half(package['sms'])}条")
        included = f"，含{'、'.join(parts)}" if parts else ""
        meaning = (
            f"入网当月月费和套餐内容均减半：月费{_yuan(fee / 2)}{included}（来电显示照常提供）；"
            f"次月起每月收取月费{_yuan(fee)}，享全部套餐内容。"
        )
    elif code == FirstMonth.OUTSIDE:
        voice = ""
        if package["voice_scope"]:
            voice = f"{package['voice_scope']}通话{money_label(package['voice_rate'])}元/分钟、"
        meaning = (
            f"入网当月不收月费，也不享受套餐内容，通话、短信和流量按套餐外标准计费（{voice}"
            f"短信{money_label(package['sms_rate'])}元/条、流量{money_label(package['data_rate'])}元/MB）；"
            f"次月起每月收取月费{_yuan(fee)}，享全部套餐内容。"
        )
    else:
        meaning = f"从入网当天起收取全月月费{_yuan(fee)}，当月即可享受全部套餐内容。"
    return {"label": label, "code": code, "meaning": meaning}
