"""`onboard90 playbook validate|show|load`: the playbook (服务方案) as data, checked before it is published."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any, NoReturn

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import DatabaseError

from onboard90.catalog.selectors import catalogue_packages
from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.messaging.context import reference_lists
from onboard90.org.models import City
from onboard90.playbook import content, schema, selectors, services
from onboard90.playbook.models import PlaybookVersion

SOURCE_LABEL = {"plan": "方案", "inferred": "推断"}


def _width(text: str) -> int:
    """Columns a string takes in a terminal: CJK characters are two columns wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [_pad(cell, widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append(indent + "  ".join(cells).rstrip())
        if n == 0:
            lines.append(indent + "  ".join("-" * w for w in widths))
    return lines


def _window(action: schema.Action) -> str:
    window = action.window
    text = f"{window.anchor} {window.start}–{window.end}"
    if window.latest_day is not None:
        text += f" (≤ day {window.latest_day})"
    return text


def _deliveries(action: schema.Action) -> str:
    text = "+".join(action.deliveries)
    if action.task is not None:
        text += f" → {action.task.channel}"
        if action.task.audience != "true":
            text += f" [{action.task.audience}]"
    if action.system is not None:
        text += f" → {action.system}"
    if action.superseded_by is not None:
        text += f"; {action.supersede_when} ⇒ {action.superseded_by}"
    if action.sms is not None and action.sms.message_class == "marketing":
        text += " (营销 marketing)"
    return text


def _counts(playbook: schema.Playbook) -> str:
    actions = playbook.actions
    plan = sum(1 for action in actions if action.source == "plan")
    return (
        f"{len(playbook.stages)} 个阶段 stages, {len(actions)} 个动作 actions "
        f"(方案原文 plan {plan}, 推断 inferred {len(actions) - plan})"
    )


class Command(OnboardCommand):
    help = "服务方案 / playbook: validate PATH, show [--version N] [--json|--yaml], load PATH [--as USER]"

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{validate,show,load}")
        validate = sub.add_parser("validate", help="check a playbook YAML file without publishing it")
        validate.add_argument("path", help="playbook YAML file")
        show = sub.add_parser("show", help="print a published version (default: the current one)")
        show.add_argument("--version", dest="version_number", type=int, metavar="N", help="version number")
        output = show.add_mutually_exclusive_group()
        output.add_argument("--json", dest="as_json", action="store_true", help="the document as JSON on stdout")
        output.add_argument(
            "--yaml", dest="as_yaml", action="store_true",
            help="the document as YAML on stdout, in the form `playbook load` reads (export, edit, load)",
        )
        load = sub.add_parser("load", help="validate and publish a playbook YAML file as a new version")
        load.add_argument("path", help="playbook YAML file")
        load.add_argument("--as", dest="as_user", metavar="USER", help="username recorded as the publisher")

    def handle(self, *args: Any, **options: Any) -> None:
        {"validate": self.validate, "show": self.show, "load": self.load}[options["subcommand"]](**options)

    # --- subcommands ----------------------------------------------------------------------------------

    def validate(self, *, path: str, **_: Any) -> None:
        document = self._read(path)
        playbook, warnings = self._checked(document)
        self._warn(warnings)
        self.stdout.write(f"服务方案有效 / playbook is valid: {playbook.name}")
        self.stdout.write(_counts(playbook))
        if playbook.city_overrides:
            cities = ", ".join(sorted(playbook.city_overrides))
            self.stdout.write(f"地市定制 city overrides: {len(playbook.city_overrides)} ({cities})")

    def show(self, *, version_number: int | None, as_json: bool, as_yaml: bool = False, **_: Any) -> None:
        if version_number is None:
            version = selectors.current_version()
        else:
            version = PlaybookVersion.objects.filter(number=version_number).first()
            if version is None:
                raise ValueError(f"没有版本 v{version_number} / no playbook version {version_number}")
        if as_json:
            self.emit_json(version.document)
            return
        if as_yaml:
            # A comment line first, so the exported file says where it came from; YAML ignores it.
            self.stdout.write(f"# 服务方案 v{version.number} · {version.checksum[:12]}", ending="\n")
            self.stdout.write(services.document_yaml(version.document), ending="")
            return
        playbook = selectors.playbook_of(version)
        by = version.published_by.get_username() if version.published_by else "system"
        self.stdout.write(f"v{version.number} {playbook.name}")
        if playbook.name_en:
            self.stdout.write(playbook.name_en)
        self.stdout.write(
            f"发布 published {version.published_at.astimezone(clock.OPERATOR_TZ):%Y-%m-%d %H:%M} "
            f"by {by}; {_counts(playbook)}; checksum {version.checksum[:12]}"
        )
        for stage in playbook.stages:
            self.stdout.write("")
            self.stdout.write(
                f"阶段{stage.number} {stage.name} {stage.name_en} · 第{stage.days[0]}–{stage.days[1]}天 days "
                f"· {SOURCE_LABEL[stage.source]} {stage.source}"
            )
            rows = [["code", "名称 name", "来源 source", "时间窗 window", "对象 audience", "方式 deliveries"]]
            for action in stage.actions:
                rows.append(
                    [
                        action.code + (" ⚠" if action.pending else ""),
                        action.name,
                        f"{SOURCE_LABEL[action.source]} {action.source}",
                        _window(action),
                        action.audience,
                        _deliveries(action),
                    ]
                )
            for line in _table(rows):
                self.stdout.write(line)
            for action in stage.actions:
                if action.pending:
                    self.stdout.write(f"  ⚠ {action.code} 尚未完全生效 not live yet: {action.pending}")
        if playbook.city_overrides:
            self.stdout.write("")
            self.stdout.write("地市定制 city overrides:")
            for city, override in sorted(playbook.city_overrides.items()):
                parts = [f"locals: {', '.join(sorted(override.locals)) or '-'}"]
                if override.actions:
                    parts.append(f"actions: {', '.join(sorted(override.actions))}")
                self.stdout.write(f"  {city}: {'; '.join(parts)}")

    def load(self, *, path: str, as_user: str | None, **_: Any) -> None:
        user = None
        if as_user:
            user = get_user_model().objects.filter(username=as_user).first()
            if user is None:
                raise ValueError(f"没有用户 / no such user: {as_user}")
        document = self._read(path)
        _playbook, warnings = self._checked(document)
        self._warn(warnings)
        try:
            version, created = services.playbook_publish(
                document=document, source=str(Path(path).resolve()), published_by=user
            )
        except schema.PlaybookError as exc:
            self._refuse(exc)
        if created:
            self.stdout.write(f"已发布 v{version.number} / published v{version.number}: {version.name}")
        else:
            self.stdout.write(f"无变化 / no change: same as v{version.number}")

    # --- helpers --------------------------------------------------------------------------------------

    def _read(self, path: str) -> dict:
        try:
            return services.playbook_load_file(path=path)
        except ValueError as exc:
            # Raised here rather than via OnboardCommand, which trims quotes a YAML message may end with.
            raise CommandError(str(exc)) from exc

    def _checked(self, document: dict) -> tuple[schema.Playbook, list[str]]:
        # What only the database can tell: the cities the content must cover, the reference lists it quotes.
        # A file is checked on a machine without one too: then those checks are left out.
        try:
            cities = list(City.objects.order_by("sort_order", "code").values_list("code", flat=True))
            references = reference_lists()
            packages = catalogue_packages()
        except DatabaseError:
            cities, references, packages = None, None, None
        try:
            return content.validate_document(document, cities=cities, references=references, packages=packages)
        except schema.PlaybookError as exc:
            self._refuse(exc)

    def _refuse(self, exc: schema.PlaybookError) -> NoReturn:
        for problem in exc.problems:
            self.stderr.write(problem)
        count = len(exc.problems)
        raise CommandError(f"服务方案无效 / playbook is invalid: {count} problem{'s' if count != 1 else ''}")

    def _warn(self, warnings: list[str]) -> None:
        for warning in warnings:
            self.stderr.write(f"注意 / warning: {warning}")
