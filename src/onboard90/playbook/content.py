"""Per-city content of a playbook (SMS templates, scripts, local facts) and the render checks before publishing.

Pure functions over a validated `schema.Playbook`: the engine calls the `*_for` helpers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from onboard90.playbook import schema, templating

# Beyond two parts (134 characters, signature and opt-out included) a notice costs a third SMS per customer.
SMS_COMFORT_PARTS = 2


def _action(playbook: schema.Playbook, action: schema.Action | str) -> schema.Action:
    return playbook.action(action) if isinstance(action, str) else action


def _override(playbook: schema.Playbook, city_code: str | None) -> schema.CityOverride | None:
    return playbook.city_overrides.get(city_code) if city_code else None


def sms_template_for(
    playbook: schema.Playbook, action: schema.Action | str, city_code: str | None, family: str | None = None
) -> str | None:
    """The SMS template a customer of `city_code` on a package of `family` gets for `action`; None when the
    action sends no SMS. A city's own template wins (the city writes for all its customers), then the
    family's, then the province's."""
    action = _action(playbook, action)
    if action.sms is None:
        return None
    override = _override(playbook, city_code)
    local = override.actions.get(action.code) if override else None
    if local is not None and local.sms_template:
        return local.sms_template
    return action.sms.by_family.get(family or "", action.sms.template)


def sms_text(playbook: schema.Playbook, body: str, message_class: str) -> str:
    """The SMS as the customer receives it: the playbook's signature, the rendered body and, for marketing,
    the opt-out text. The one place that puts them together (the dispatcher and the checks before publishing)."""
    text = f"{playbook.sms_signature}{body}"
    if message_class == "marketing" and playbook.opt_out_suffix:
        text += playbook.opt_out_suffix
    return text


def script_for(
    playbook: schema.Playbook, action: schema.Action | str, city_code: str | None, *, english: bool = False
) -> str:
    """The staff script for `action` in `city_code`: the province's script plus the city's extra guidance,
    with the city's local facts filled in (`{{ local.club_subclubs }}`). `english`: the playbook's English
    script where it has one (the city's guidance and facts are written only in Chinese)."""
    action = _action(playbook, action)
    if action.task is None:
        return ""
    script = (action.task.script_en if english else "") or action.task.script
    override = _override(playbook, city_code)
    local = override.actions.get(action.code) if override else None
    if local is not None and local.script_extra:
        script = f"{script.rstrip()}\n\n{local.script_extra.strip()}"
    if "{" not in script:
        return script
    try:
        return templating.render(script, {"local": locals_for(playbook, city_code)})
    except Exception:  # publishing refuses a script that fails (content_problems): this is a later edit's slip
        return script


def locals_for(playbook: schema.Playbook, city_code: str | None) -> dict[str, str]:
    """The `local` dict of SMS templates: the playbook's defaults overlaid by the city's own values."""
    values = dict(playbook.locals)
    override = _override(playbook, city_code)
    if override is not None:
        values.update(override.locals)
    return values


# --- checks before publishing ---------------------------------------------------------------------------


# One package of each family of the shipped catalogue, shaped as messaging.context.package_context makes them:
# every template and family variant is rendered against these before publishing.
SAMPLE_PACKAGES: dict[str, dict[str, Any]] = {
    family: {
        "code": code, "name": name, "family": family, "product": product, "monthly_fee": Decimal(fee),
        "voice_min": voice_min, "data_mb": data_mb, "sms": sms, "voice_rate": Decimal(voice_rate),
        "data_rate": Decimal(data_rate), "sms_rate": Decimal("0.1"), "voice_scope": scope,
        "long_distance_rate": Decimal(ld) if ld else None, "minimum_spend": minimum, "data_cap_mb": cap,
    }
    for family, code, name, product, fee, voice_min, data_mb, sms, voice_rate, data_rate, scope, ld, minimum, cap in [
        ("A", "A66", "沃3G基本套餐A计划66元", "postpaid", "66", 50, 300, 240, "0.2", "0.3", "国内", "", False, None),
        ("B", "B66", "沃3G基本套餐B计划66元", "postpaid", "66", 200, 60, 0, "0.2", "0.3", "国内", "", False, None),
        ("C", "C46", "沃3G基本套餐C计划46元", "postpaid", "46", 260, 40, 0, "0.2", "0.3", "本地", "0.25", False, None),
        ("prepaid", "P20", "沃3G预付费20元卡", "prepaid", "20", 0, 0, 0, "0.1", "0.2", "本地", "0.25", True, 100),
        ("datacard", "D80", "3G无线上网卡80元", "postpaid", "80", 0, 1000, 0, "0", "0.1", "", "", False, 15000),
    ]
}


def sample_context(
    playbook: schema.Playbook, city_code: str | None = None, *, sparse: bool = False, family: str = "A"
) -> dict:
    """A context shaped exactly like the engine's, for a customer on a package of `family`. `sparse` has the
    optional parts empty (no name, not VIP, no manager, no bill, empty reference lists), the way many real
    customers look."""
    context: dict[str, Any] = {
        "customer": {
            "name": "张伟",
            "msisdn_masked": "186****1234",
            "city": "济南",
            "store": "济南泉城路营业厅",
        },
        "package": dict(SAMPLE_PACKAGES.get(family, SAMPLE_PACKAGES["A"])),
        "first_month": "套餐减半",
        "first_month_code": "half",
        "vip": {"tier": "金卡", "code": "gold", "benefits": ["客户经理服务", "10018 VIP热线优先接入", "营业厅VIP专席优先办理"]},
        "manager": {"name": "李娜", "phone": "18653100042"},
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
                    "手机开热点共享上网",
                    "WLAN断开后自动切换到3G",
                ],
                1,
            )
        ],
        "local": locals_for(playbook, city_code),
        # The usage acts' own (journeys.usage_acts): the package-fit verdict and the offer chosen.
        "fit": {
            "verdict": "does_not_fit", "recommended": "C66", "saving": Decimal("51.50"),
            "current_cost": Decimal("133.50"), "explanation": "通话平均每月400分钟，超出套餐所含50分钟约350分钟。",
        },
        "offer": {
            "code": "data20", "name": "3G国内流量包20元", "kind": "data", "price": Decimal("20.00"),
            "pitch": "3G流量包20元含300M，发KT3GLL20到10010订购，次月生效。", "reason": "首月流量折合每月约420MB",
        },
        # The data-surge alert's own (journeys.surge_acts, usage.alerts.alert_context): a month crossing, the
        # longer of its two texts.
        "alert": {
            "kind": "month_share", "day": "5月23日", "day_mb": 186, "median_mb": 12, "percent": 80, "month_mb": 245,
            "allowance_mb": 300, "left_mb": 55,
        },
    }
    if sparse:
        context["customer"] = {**context["customer"], "name": ""}
        context.update(
            vip=None, manager=None, bill=None, channels=[], payment_methods=[], data_surge_causes=[], fit=None,
            offer=None, alert=None,
        )
    return context


def _action_paths(playbook: schema.Playbook) -> dict[str, str]:
    return {
        action.code: f"stages[{i}].actions[{j}]"
        for i, stage in enumerate(playbook.stages)
        for j, action in enumerate(stage.actions)
    }


def _templates(playbook: schema.Playbook):
    """(path, action, city_code or None, families, template) for every SMS template a customer can receive:
    `families` are the sample package families it is rendered for."""
    paths = _action_paths(playbook)
    every = list(SAMPLE_PACKAGES)
    for action in playbook.actions:
        if action.sms is None:
            continue
        path = f"{paths[action.code]}.sms"
        rest = [family for family in every if family not in action.sms.by_family]
        yield f"{path}.template", action, None, rest, action.sms.template
        for family, template in action.sms.by_family.items():
            yield f"{path}.by_family.{family}", action, None, [family if family in SAMPLE_PACKAGES else "A"], template
    for city, override in playbook.city_overrides.items():
        for code, local in override.actions.items():
            if local.sms_template:
                yield f"city_overrides.{city}.actions.{code}.sms_template", playbook.action(code), city, every, local.sms_template


def _scripts(playbook: schema.Playbook):
    """(path, script) for every staff script and city guidance: they may quote the city's local facts."""
    paths = _action_paths(playbook)
    for action in playbook.actions:
        if action.task is not None:
            yield f"{paths[action.code]}.task.script", action.task.script
            if action.task.script_en:
                yield f"{paths[action.code]}.task.script_en", action.task.script_en
    for city, override in playbook.city_overrides.items():
        for code, local in override.actions.items():
            if local.script_extra:
                yield f"city_overrides.{city}.actions.{code}.script_extra", local.script_extra


REFERENCE_LISTS = ("channels", "payment_methods", "data_surge_causes")


def content_problems(
    playbook: schema.Playbook, *, cities: list[str] | None = None, references: dict[str, list] | None = None,
    packages: list[dict[str, Any]] | None = None,
) -> tuple[list[str], list[str]]:
    """Render every template as the engine would: (errors that block publishing, warnings worth reading).

    A template that fails with a full context names something the engine never provides: an error. One
    that fails only with the sparse context breaks for some customers (e.g. no bill yet): a warning,
    because the action's audience may rule those customers out. Every template is rendered for each
    package family it can reach (see SAMPLE_PACKAGES).

    `cities` (the organisation's city codes) and `references` (the catalogue's reference lists), when
    given, add the warnings only the database can tell: a city with no content of its own, a reference
    list a template quotes that is empty. `packages` (the catalogue's, as `catalog.selectors.package_context`
    shapes them) has every text rendered for each package of its family too: one that would go as more
    than the playbook's `sms_max_parts` is an error naming the act and the package.
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
    every_city = [None, *playbook.city_overrides]
    quoted: set[str] = set()
    for path, action, city, families, template in _templates(playbook):
        for marker, what in [
            (playbook.sms_signature, "signature"),
            (playbook.opt_out_suffix, "opt-out text"),
        ]:
            if marker and marker in template:
                errors.append(f"{path}: contains the {what} {marker!r}; the engine adds it")
        quoted.update(name for name in REFERENCE_LISTS if name in template)
        if city:
            city_codes = [city]
        else:  # the province's template reaches every city that does not replace it
            city_codes = [c for c in every_city if c is None or not _replaces(playbook, action, c)]
        broken = False
        for family in families:
            for city_code in city_codes:
                # The family is named only where the text breaks for it alone (the first one tried breaks it for all).
                where = "".join(
                    [f" (city {city_code})" if city_code and not city else "", f" ({family} package)" if family != families[0] else ""]
                )
                try:
                    text = templating.render(template, sample_context(playbook, city_code, family=family))
                except Exception as exc:  # any failure while rendering is the template author's to fix
                    errors.append(f"{path}: cannot render{where}: {exc}")
                    broken = True
                    break
                try:
                    templating.render(template, sample_context(playbook, city_code, sparse=True, family=family))
                except Exception as exc:
                    warnings.append(
                        f"{path}: fails{where} when the customer has no name, VIP tier, manager or bill: {exc}"
                    )
                message_class = action.sms.message_class if action.sms else "service"
                full = sms_text(playbook, text, message_class)
                if templating.segments(full) > SMS_COMFORT_PARTS:
                    warnings.append(
                        f"{path}: about {len(full)} characters{where} ({templating.segments(full)} SMS parts); "
                        f"aim for at most {SMS_COMFORT_PARTS} parts"
                    )
                errors += _too_long(
                    playbook, template, path=path, where=where, city_code=city_code, message_class=message_class,
                    packages=[p for p in packages or [] if p["family"] == family]
                    or [SAMPLE_PACKAGES.get(family, SAMPLE_PACKAGES["A"])],
                )
            if broken:
                break  # broken for everyone: repeating it per city and family adds nothing
    for path, script in _scripts(playbook):
        if "{" not in script:
            continue
        for city_code in every_city:
            try:
                templating.render(script, {"local": locals_for(playbook, city_code)})
            except Exception as exc:
                errors.append(f"{path}: cannot fill in{f' (city {city_code})' if city_code else ''}: {exc}")
                break
    warnings += _crowded_days(playbook)
    for city_code in cities or []:
        override = playbook.city_overrides.get(city_code)
        if override is None or not override.locals:
            warnings.append(f"city_overrides.{city_code}: the city has no local content of its own (locals)")
    for name in sorted(quoted):
        if references is not None and not references.get(name):
            warnings.append(f"{name}: a template quotes this reference list, but it is empty (catalogue)")
    return errors, warnings


def _too_long(
    playbook: schema.Playbook, template: str, *, path: str, where: str, city_code: str | None, message_class: str,
    packages: list[dict[str, Any]],
) -> list[str]:
    """The packages for which `template` would go as more than `sms_max_parts` SMS parts, as errors."""
    found = []
    for package in packages:
        context = {**sample_context(playbook, city_code, family=package["family"]), "package": package}
        try:
            parts = templating.segments(sms_text(playbook, templating.render(template, context), message_class))
        except Exception:  # a failure to render is reported by the render check above
            continue
        if parts > playbook.sms_max_parts:
            found.append(
                f"{path}: {parts} SMS parts for package {package['code']}{where}, more than the playbook's "
                f"sms_max_parts ({playbook.sms_max_parts})"
            )
    return found


def _replaces(playbook: schema.Playbook, action: schema.Action, city_code: str) -> bool:
    local = playbook.city_overrides[city_code].actions.get(action.code)
    return local is not None and bool(local.sms_template)


def _crowded_days(playbook: schema.Playbook) -> list[str]:
    """Days on which more of the plan's SMS leave than `sms_daily_limit` for a customer in every audience
    (same anchor, same day). The dispatcher holds the excess back anyway; this says the plan asks for it."""
    days: dict[tuple[str, int], list[str]] = {}
    for action in playbook.actions:
        if action.sms is not None:
            days.setdefault((action.window.anchor, action.window.start + action.sms.send_day), []).append(action.code)
    return [
        f"{anchor} day {day}: {len(codes)} SMS ({', '.join(codes)}) leave on one day; the playbook allows "
        f"{playbook.sms_daily_limit} a day (sms.send_day spreads them)"
        for (anchor, day), codes in sorted(days.items())
        if len(codes) > playbook.sms_daily_limit
    ]


def validate_document(
    document: object, *, cities: list[str] | None = None, references: dict[str, list] | None = None,
    packages: list[dict[str, Any]] | None = None,
) -> tuple[schema.Playbook, list[str]]:
    """The full check before publishing: structure (schema), then rendering. Returns the playbook and warnings.

    Raises schema.PlaybookError listing every `path: reason`. `cities`, `references`, `packages`: see
    content_problems.
    """
    playbook = schema.validate(document)
    errors, warnings = content_problems(playbook, cities=cities, references=references, packages=packages)
    if errors:
        raise schema.PlaybookError(errors)
    return playbook, warnings
