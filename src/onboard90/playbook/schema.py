"""The playbook's schema: what a valid playbook document is, with errors that name the path and reason.

A playbook is data (a versioned YAML document); this module is the contract the engine reads it by.
Django-free on purpose: the engine's rules and the tests use it without a database.
"""

from __future__ import annotations

import re
from typing import Literal

from jinja2 import TemplateSyntaxError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from onboard90.journeys.rules import audience as audience_rules
from onboard90.playbook.templating import compile_template

Anchor = Literal["activation", "vip_rated", "manager_assigned", "bill_issued", "data_surge"]
Delivery = Literal["guide", "sms", "verbal", "call", "hands_on", "system"]
Channel = Literal["store", "club", "call_centre", "account_manager", "supervisor"]
ActionKind = Literal["notice", "recommend", "coaching", "callback", "system", "survey", "alert"]
Source = Literal["plan", "inferred"]

HUMAN_DELIVERIES = {"verbal", "call", "hands_on"}
CODE = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_audience(value: str | None) -> str | None:
    if value is not None:
        try:
            audience_rules.parse(value)
        except audience_rules.AudienceError as exc:
            raise ValueError(f"bad audience expression: {exc}") from None
    return value


def _check_template(value: str | None) -> str | None:
    if value is not None:
        try:
            compile_template(value)
        except TemplateSyntaxError as exc:
            raise ValueError(f"bad SMS template (line {exc.lineno}): {exc.message}") from None
    return value


class Window(_Strict):
    """Days relative to an anchor, both ends inclusive; `latest_day` caps it relative to activation."""

    anchor: Anchor = "activation"
    start: int = Field(ge=0, le=366)
    end: int = Field(ge=0, le=366)
    latest_day: int | None = Field(default=None, ge=0, le=366)

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: int, info) -> int:
        start = info.data.get("start")
        if start is not None and end < start:
            raise ValueError("must be >= start")
        return end


class ChecklistItem(_Strict):
    code: str = Field(pattern=CODE)
    text: str = Field(min_length=1)
    text_en: str = ""


class TaskSpec(_Strict):
    """The human part of an action: who does it, what they say, what they tick, how often they retry."""

    channel: Channel
    title: str = Field(min_length=1)
    title_en: str = ""
    script: str = Field(min_length=1)
    script_en: str = ""
    checklist: list[ChecklistItem] = []
    max_attempts: int = Field(default=1, ge=1, le=10)
    # Other units of the customer's city that may take the task onto their own desk (the plan's hands-on
    # coaching happens "at the store or the club": it sits with the store, and the club may take it).
    takeable_by: list[Channel] = []
    # The task is created only for customers this holds for (e.g. the survey's call goes to VIPs only).
    audience: str = "true"

    _audience_ok = field_validator("audience")(_check_audience)


class SmsSpec(_Strict):
    template: str = Field(min_length=1)
    message_class: Literal["service", "marketing"] = "service"
    # A package family's own text (A/B/C, prepaid, datacard: the catalogue's `family`), where what the
    # customer must be told differs (no voice on a data card, a minimum spend on the 20元 card).
    by_family: dict[str, str] = {}
    # The day of the window the message leaves on (0 = its first day): the plan's day-0 notices are spread
    # so that no customer gets them all at once (see Playbook.sms_daily_limit).
    send_day: int = Field(default=0, ge=0, le=366)
    # The message goes only to customers this holds for (package fit: the confirming SMS to those whose
    # package fits, while those whose package does not get the call instead).
    audience: str = "true"

    _template_ok = field_validator("template")(_check_template)
    _audience_ok = field_validator("audience")(_check_audience)

    @field_validator("by_family")
    @classmethod
    def _family_templates_ok(cls, value: dict[str, str]) -> dict[str, str]:
        for family, template in value.items():
            if not template or not template.strip():
                raise ValueError(f"{family}: empty template")
            try:
                _check_template(template)
            except ValueError as exc:
                raise ValueError(f"{family}: {exc}") from None
        return value


class ActionOverride(_Strict):
    """Per-city content: replace the SMS template and/or add local guidance to the staff script."""

    sms_template: str | None = None
    script_extra: str | None = None

    _template_ok = field_validator("sms_template")(_check_template)


class CityOverride(_Strict):
    locals: dict[str, str] = {}
    actions: dict[str, ActionOverride] = {}


class Action(_Strict):
    """规定动作: one mandated act of the plan."""

    code: str = Field(pattern=CODE, max_length=48)
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    kind: ActionKind
    source: Source
    audience: str = "true"
    window: Window
    deliveries: list[Delivery] = Field(min_length=1)
    task: TaskSpec | None = None
    sms: SmsSpec | None = None
    system: Literal["assign_account_manager"] | None = None
    supersede_when: str | None = None
    superseded_by: str | None = None
    content: str = ""  # what the plan says the act must cover, for people reading the playbook
    # Set while the act's inputs do not exist yet (usage, replies, the fit rule): what it waits for. The act
    # still opens on its window; `playbook show` and the admin mark it as not fully live.
    pending: str = ""

    _audience_ok = field_validator("audience", "supersede_when")(_check_audience)

    @model_validator(mode="after")
    def _deliveries_match(self) -> Action:
        kinds = set(self.deliveries)
        if kinds & HUMAN_DELIVERIES and self.task is None and self.system is None:
            raise ValueError("deliveries name a staff delivery (verbal/call/hands_on) but there is no task")
        if "sms" in kinds and self.sms is None:
            raise ValueError("deliveries name sms but there is no sms template")
        if "system" in kinds and self.system is None:
            raise ValueError("deliveries name system but no system act is given")
        if self.task is None and self.sms is None and self.system is None:
            raise ValueError("an action needs a task, an sms or a system act")
        if (self.supersede_when is None) != (self.superseded_by is None):
            raise ValueError("supersede_when and superseded_by go together")
        if self.sms is not None and self.sms.send_day > self.window.end - self.window.start:
            raise ValueError(
                f"sms.send_day {self.sms.send_day} is past the window's last day "
                f"({self.window.end - self.window.start} days after its first)"
            )
        return self


class Stage(_Strict):
    """阶段 / 时刻: one of the five moments of the onboarding period."""

    number: int = Field(ge=1)
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    source: Source
    days: tuple[int, int]
    actions: list[Action] = []

    @field_validator("days")
    @classmethod
    def _days_ordered(cls, days: tuple[int, int]) -> tuple[int, int]:
        if days[0] < 0 or days[1] < days[0]:
            raise ValueError("must be [first_day, last_day] with 0 <= first_day <= last_day")
        return days


class QuietHours(_Strict):
    """SMS go out only between `start` and `end` local time (HH:MM, start before end, both within one day):
    the sending hours every message's policy reads (`messaging.policy`)."""

    start: str = Field(default="08:00", pattern=r"^\d\d:\d\d$")
    end: str = Field(default="21:00", pattern=r"^\d\d:\d\d$")

    @field_validator("start", "end")
    @classmethod
    def _a_time_of_day(cls, value: str) -> str:
        hours, minutes = int(value[:2]), int(value[3:])
        if hours > 23 or minutes > 59:
            raise ValueError(f"{value} is not a time of day (00:00–23:59)")
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> QuietHours:
        if self.start >= self.end:
            raise ValueError(f"sending hours must start before they end (start {self.start}, end {self.end})")
        return self


class PackageFitRules(_Strict):
    """When a package does not fit (套餐不合适, `usage.fit`): another open package saves at least
    `saving_percent` % over the months priced, or every allowance is used less than `min_use_percent` %
    and a cheaper package is open. Whole percents; read by the cycle's verdict step."""

    saving_percent: int = Field(default=10, ge=0, le=100)
    min_use_percent: int = Field(default=50, ge=0, le=100)


# The days before the day judged that the surge's median reads (usage.services.SURGE_WINDOW_DAYS, the day rows
# kept): more days held than that cannot be asked for.
SURGE_WINDOW_DAYS = 35


class DataSurgeRules(_Strict):
    """When the data-surge alert fires (流量突增提醒, `usage.surge`): a day's MB over `multiple` times the customer's
    own median of the days before it (at least `min_days` of them held) and over `min_mb`; or the month's MB
    crossing each of `month_percents` % of the package's allowance. Whole numbers; read by the cycle's alert step."""

    multiple: int = Field(default=3, ge=1, le=100)
    min_mb: int = Field(default=50, ge=0, le=100_000)
    min_days: int = Field(default=7, ge=1, le=SURGE_WINDOW_DAYS)
    month_percents: list[int] = Field(default=[80, 100], max_length=5)

    @field_validator("month_percents")
    @classmethod
    def _percents(cls, value: list[int]) -> list[int]:
        if any(not 0 < percent <= 1000 for percent in value):
            raise ValueError("each percent must be 1–1000 (of the package's data allowance)")
        if value != sorted(set(value)):
            raise ValueError("percents must increase, without repeats (e.g. [80, 100])")
        return value


class Playbook(_Strict):
    name: str = Field(min_length=1)
    name_en: str = ""
    journey_days: int = Field(default=90, ge=1, le=366)
    sms_signature: str = "【中国联通】"
    opt_out_suffix: str = "回复TD退订"
    quiet_hours: QuietHours = QuietHours()
    # At most this many of the plan's SMS reach one customer on one day; the dispatcher holds the rest to
    # a later day of their window (and records them missed if none is left).
    sms_daily_limit: int = Field(default=2, ge=1, le=20)
    # No message of the plan may go as more SMS parts than this, for any package of the catalogue: a playbook
    # whose text would is refused at publishing, naming the act and the package.
    sms_max_parts: int = Field(default=3, ge=1, le=10)
    locals: dict[str, str] = {}
    package_fit: PackageFitRules = PackageFitRules()
    data_surge: DataSurgeRules = DataSurgeRules()
    city_overrides: dict[str, CityOverride] = {}
    stages: list[Stage] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> Playbook:
        codes = [action.code for stage in self.stages for action in stage.actions]
        seen: set[str] = set()
        for code in codes:
            if code in seen:
                raise ValueError(f"action code {code!r} is used twice")
            seen.add(code)
        for stage in self.stages:
            for action in stage.actions:
                if action.superseded_by and action.superseded_by not in seen:
                    raise ValueError(f"{action.code}.superseded_by: unknown action {action.superseded_by!r}")
        for city, override in self.city_overrides.items():
            for code in override.actions:
                if code not in seen:
                    raise ValueError(f"city_overrides.{city}.actions: unknown action {code!r}")
        return self

    # --- reading helpers the engine uses -------------------------------------------------------------

    @property
    def actions(self) -> list[Action]:
        return [action for stage in self.stages for action in stage.actions]

    def action(self, code: str) -> Action:
        for action in self.actions:
            if action.code == code:
                return action
        raise KeyError(code)

    def stage_of(self, code: str) -> Stage:
        for stage in self.stages:
            if any(action.code == code for action in stage.actions):
                return stage
        raise KeyError(code)

    def stage_on_day(self, day: int) -> Stage | None:
        for stage in self.stages:
            if stage.days[0] <= day <= stage.days[1]:
                return stage
        return None


class PlaybookError(ValueError):
    """A playbook that does not validate; `problems` lists `path: reason` lines."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not re.match(r"^(function-)?(after|before|wrap)\[", str(part)) and "tagged-union" not in str(part):
            out += ("." if out else "") + str(part)
    return out or "(document)"


def validate(document: object) -> Playbook:
    """Validate a parsed YAML/JSON document; raise PlaybookError with one `path: reason` per problem."""
    if not isinstance(document, dict):
        raise PlaybookError(["(document): must be a mapping with name and stages"])
    try:
        return Playbook.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{_path(error['loc'])}: {message}")
        raise PlaybookError(problems) from None
