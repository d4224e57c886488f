"""Per-city content of a playbook (SMS templates, scripts, local facts) and the render checks before publishing.

Pure functions over a validated `schema.Playbook`: the engine calls the `*_for` helpers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from onboard90.messaging import templating
from onboard90.playbook import schema

# Beyond two parts (134 characters, signature and opt-out included) a notice costs a third SMS per customer.
SMS_COMFORT_PARTS = 2


def _action(playbook: schema.Playbook, action: schema.Action | str) -> schema.Action:
    return playbook.action(action) if isinstance(action, str) else action


def _override(playbook: schema.Playbook, city_code: str | None) -> schema.CityOverride | None:
    return playbook.city_overrides.get(city_code) if city_code else None


def sms_template_for(
    playbook: schema.Playbook, action: schema.Action | str, city_code: str | None
) -> str | None:
    """The SMS template a customer of `city_code` gets for `action`; None when the action sends no SMS."""
    action = _action(playbook, action)
    if action.sms is None:
        return None
    override = _override(playbook, city_code)
    local = override.actions.get(action.code) if override else None
    if local is not None and local.sms_template:
        return local.sms_template
    return action.sms.template


def script_for(
    playbook: schema.Playbook, action: schema.Action | str, city_code: str | None, *, english: bool = False
) -> str:
    """The staff script for `action` in `city_code`: the province's script plus the city's extra guidance.
    `english`: the playbook's English script where it has one (the city's guidance is written only in
    Chinese, and follows it as it is)."""
    action = _action(playbook, action)
    if action.task is None:
        return ""
    script = (action.task.script_en if english else "") or action.task.script
    override = _override(playbook, city_code)
    local = override.actions.get(action.code) if override else None
    if local is not None and local.script_extra:
        return f"{script.rstrip()}\n\n{local.script_extra.strip()}"
    return script


def locals_for(playbook: schema.Playbook, city_code: str | None) -> dict[str, str]:
    """The `local` dict of SMS templates: the playbook's defaults overlaid by the city's own values."""
    values = dict(playbook.locals)
    override = _override(playbook, city_code)
    if override is not None:
        values.update(override.locals)
    return values


# --- checks before publishing ---------------------------------------------------------------------------


def sample_context(playbook: schema.Playbook, city_code: str | None = None, *, sparse: bool = False) -> dict:
    """A context shaped exactly like the engine's. `sparse` has the optional parts empty (no name, not VIP,
    no manager, no bill, empty reference lists), the way many real customers look."""
    context: dict[str, Any] = {
        "customer": {
            "name": "张伟",
            "msisdn_masked": "186****1234",
            "city": "济南",
            "store": "济南泉城路营业厅",
        },
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
        },
        "first_month": "全月",
        "vip": {"tier": "金卡", "code": "gold"},
        "manager": {"name": "李娜", "phone": ""},
        "bill": {"month": "2012-03", "amount": Decimal("66.00")},
        "channels": [
            {"rank": 1, "name": "客服热线", "identifier": "10010"},
            {"rank": 2, "name": "网上营业厅", "identifier": "www.10010.com"},
            {"rank": 3, "name": "短信营业厅", "identifier": "10010"},
            {"rank": 4, "name": "自有营业厅", "identifier": ""},
        ],
        "payment_methods": [
            {"rank": rank, "name": name, "identifier": ""}
            for rank, name in enumerate(
                [
                    "自有营业厅柜台缴费",
                    "充值卡（一卡充）",
                    "网上营业厅缴费",
                    "银行代扣（托收）",
                    "银行柜台、ATM、网上银行及电话银行",
                    "代理点及合作营业厅（空中充值）",
                    "自助缴费终端",
                    "手机营业厅及第三方支付",
                ],
                1,
            )
        ],
        "data_surge_causes": [
            {"rank": rank, "name": name, "identifier": ""}
            for rank, name in enumerate(
                [
                    "自动更新与应用下载",
                    "后台常驻应用",
                    "在线视频、音乐与大文件下载",
                    "手机作调制解调器或热点",
                    "WLAN断开后自动切换到3G",
                ],
                1,
            )
        ],
        "local": locals_for(playbook, city_code),
    }
    if sparse:
        context["customer"] = {**context["customer"], "name": ""}
        context.update(
            vip=None, manager=None, bill=None, channels=[], payment_methods=[], data_surge_causes=[]
        )
    return context


def _action_paths(playbook: schema.Playbook) -> dict[str, str]:
    return {
        action.code: f"stages[{i}].actions[{j}]"
        for i, stage in enumerate(playbook.stages)
        for j, action in enumerate(stage.actions)
    }


def _templates(playbook: schema.Playbook):
    """(path, action, city_code or None, template) for every SMS template a customer can receive."""
    paths = _action_paths(playbook)
    for action in playbook.actions:
        if action.sms is not None:
            yield f"{paths[action.code]}.sms.template", action, None, action.sms.template
    for city, override in playbook.city_overrides.items():
        for code, local in override.actions.items():
            if local.sms_template:
                yield (
                    f"city_overrides.{city}.actions.{code}.sms_template",
                    playbook.action(code),
                    city,
                    local.sms_template,
                )


def content_problems(playbook: schema.Playbook) -> tuple[list[str], list[str]]:
    """Render every template as the engine would: (errors that block publishing, warnings worth reading).

    A template that fails with a full context names something the engine never provides: an error. One
    that fails only with the sparse context breaks for some customers (e.g. no bill yet): a warning,
    because the action's audience may rule those customers out.
    """
    errors: list[str] = []
    warnings: list[str] = []
    for city, override in playbook.city_overrides.items():
        for code, local in override.actions.items():
            action = playbook.action(code)
            if local.sms_template and action.sms is None:
                errors.append(
                    f"city_overrides.{city}.actions.{code}.sms_template: action {code!r} sends no SMS"
                )
            if local.script_extra and action.task is None:
                errors.append(
                    f"city_overrides.{city}.actions.{code}.script_extra: action {code!r} has no task"
                )
    for path, action, city, template in _templates(playbook):
        for marker, what in [
            (playbook.sms_signature, "signature"),
            (playbook.opt_out_suffix, "opt-out text"),
        ]:
            if marker and marker in template:
                errors.append(f"{path}: contains the {what} {marker!r}; the engine adds it")
        if city:
            cities = [city]
        else:  # the province's template reaches every city that does not replace it
            cities = [
                None,
                *(c for c in playbook.city_overrides if sms_template_for(playbook, action, c) == template),
            ]
        for city_code in cities:
            where = f" (city {city_code})" if city_code and not city else ""
            try:
                text = templating.render(template, sample_context(playbook, city_code))
            except Exception as exc:  # any failure while rendering is the template author's to fix
                errors.append(f"{path}: cannot render{where}: {exc}")
                if city_code is None:
                    break  # broken for everyone: repeating it per city adds nothing
                continue
            try:
                templating.render(template, sample_context(playbook, city_code, sparse=True))
            except Exception as exc:
                warnings.append(
                    f"{path}: fails{where} when the customer has no name, VIP tier, manager or bill: {exc}"
                )
            full = playbook.sms_signature + text
            if action.sms is not None and action.sms.message_class == "marketing":
                full += playbook.opt_out_suffix
            if templating.segments(full) > SMS_COMFORT_PARTS:
                warnings.append(
                    f"{path}: about {len(full)} characters{where} ({templating.segments(full)} SMS parts); "
                    f"aim for at most {SMS_COMFORT_PARTS} parts"
                )
    return errors, warnings


def validate_document(document: object) -> tuple[schema.Playbook, list[str]]:
    """The full check before publishing: structure (schema), then rendering. Returns the playbook and warnings.

    Raises schema.PlaybookError listing every `path: reason`.
    """
    playbook = schema.validate(document)
    errors, warnings = content_problems(playbook)
    if errors:
        raise schema.PlaybookError(errors)
    return playbook, warnings
