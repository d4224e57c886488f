"""The playbook in the admin: versions (read-only, compared side by side), and the current version's stages
(阶段) and acts (服务动作), readable and — for the province administrator — editable.

Stages and acts are not rows: they live inside a version's document. `PlaybookStage` and `PlaybookAct` are
proxies that exist only to give them an entry in the admin; their admins replace the changelist and change
views with views over the current document. An edit never changes a version in place: it goes through
`services.playbook_edit`, which validates the whole document exactly as `onboard90 playbook validate` does
and publishes a new version (audited as `playbook.publish`, with each changed field).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from onboard90.core.language import pick
from onboard90.org.scoping import scope_of
from onboard90.playbook import labels, schema, selectors, services
from onboard90.playbook.models import PlaybookAct, PlaybookStage, PlaybookVersion


def can_read(user) -> bool:
    """Province administrators (and superusers) read the playbook here; others only if granted the view
    permission. Supervisors are staff (they use the admin for nothing else) and see none of it."""
    if not (user.is_active and user.is_staff):
        return False
    return scope_of(user).is_province or user.has_perm("playbook.view_playbookversion")


def can_edit(user) -> bool:
    """Only the province administrator (or a superuser) publishes a new version."""
    return user.is_active and user.is_staff and scope_of(user).is_province


@admin.register(PlaybookVersion)
class PlaybookVersionAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "published_at", "published_by", "compare_link"]
    list_display_links = ["number", "name"]
    list_select_related = ["published_by"]
    search_fields = ["name", "source", "checksum"]
    date_hierarchy = "published_at"
    fields = ["number", "name", "published_at", "published_by", "source", "checksum", "document_pretty"]
    readonly_fields = fields
    actions = ["compare_selected"]

    # Versions are immutable records that journeys point at: editing one in place would change the
    # plan under running journeys, and creating one here would skip validation and the audit log.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return can_read(request.user)

    def has_module_permission(self, request) -> bool:
        return can_read(request.user)

    @admin.display(description=PlaybookVersion._meta.get_field("document").verbose_name)
    def document_pretty(self, obj: PlaybookVersion) -> str:
        text = json.dumps(obj.document, ensure_ascii=False, indent=2)
        return format_html(
            '<pre style="white-space: pre-wrap; max-height: 60em; overflow: auto">{}</pre>', text
        )

    @admin.display(description=_("与上一版比较"))
    def compare_link(self, obj: PlaybookVersion) -> str:
        if obj.number <= 1:
            return "—"
        url = reverse("admin:playbook_playbookversion_compare")
        return format_html('<a href="{}?a={}&amp;b={}">{}</a>', url, obj.number - 1, obj.number, gettext("比较"))

    @admin.action(description=_("比较所选的两个版本"))
    def compare_selected(self, request, queryset):
        numbers = sorted(queryset.values_list("number", flat=True))
        if len(numbers) != 2:
            self.message_user(request, gettext("请正好选择两个版本进行比较。"), messages.WARNING)
            return None
        url = reverse("admin:playbook_playbookversion_compare")
        return HttpResponseRedirect(f"{url}?a={numbers[0]}&b={numbers[1]}")

    def get_urls(self):
        compare = path("compare/", self.admin_site.admin_view(self.compare_view), name="playbook_playbookversion_compare")
        return [compare, *super().get_urls()]

    def compare_view(self, request):
        """Two versions side by side: acts added, removed and changed, field by field."""
        if not can_read(request.user):
            raise PermissionDenied
        choices = selectors.version_choices()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("比较服务方案版本"),
            "choices": choices,
        }
        if len(choices) < 2:
            context["problem"] = gettext("只有一个已发布的版本，暂无可比较的内容。")
            return TemplateResponse(request, "admin/playbook/compare.html", context)
        default_a, default_b = choices[1][0], choices[0][0]
        a = selectors.version_numbered(request.GET.get("a", default_a))
        b = selectors.version_numbered(request.GET.get("b", default_b))
        if a is None or b is None:
            context["problem"] = gettext("没有这个版本号，请从列表中选择。")
            context.update(a_number=default_a, b_number=default_b)
            return TemplateResponse(request, "admin/playbook/compare.html", context)
        result = selectors.versions_diff(a, b)
        context.update(
            a=a, b=b, a_number=a.number, b_number=b.number, diff=result, counts=result.counts(),
            general=[_field_row(change) for change in result.general],
            stages=[_item_rows(item) for item in result.stages],
            acts=[_item_rows(item) for item in result.acts],
        )
        return TemplateResponse(request, "admin/playbook/compare.html", context)


def _field_row(change) -> dict[str, str]:
    return {
        "label": labels.field_label(change.path),
        "before": labels.value_words(change.path, change.before),
        "after": labels.value_words(change.path, change.after),
    }


STATUS_WORDS = {"added": _("新增"), "removed": _("删除"), "changed": _("修改")}


def _item_rows(item) -> dict[str, Any]:
    return {
        "code": item.code,
        "name": item.name,
        "stage": item.stage,
        "status": item.status,
        "status_words": STATUS_WORDS[item.status],
        "fields": [_field_row(change) for change in item.fields],
    }


# --- stages and acts of the current version --------------------------------------------------------------


class _DocumentAdmin(admin.ModelAdmin):
    """An admin entry whose pages read the current version's document instead of a table."""

    def has_module_permission(self, request) -> bool:
        return can_read(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return can_read(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return can_edit(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        prefix = f"{self.model._meta.app_label}_{self.model._meta.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.list_view), name=f"{prefix}_changelist"),
            path("<str:code>/change/", wrap(self.detail_view), name=f"{prefix}_change"),
        ]

    def _context(self, request, title: str) -> dict[str, Any]:
        if not can_read(request.user):
            raise PermissionDenied
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "can_edit": can_edit(request.user),
        }

    def _version(self, request) -> tuple[PlaybookVersion, PlaybookVersion]:
        """(shown, current): `?v=N` shows an older version read-only; the current one otherwise."""
        if not can_read(request.user):  # before any lookup, so a 404 never tells a supervisor what exists
            raise PermissionDenied
        try:
            current = selectors.current_version()
        except LookupError:
            raise Http404(gettext("尚未发布服务方案：请先运行 onboard90 init")) from None
        if "v" not in request.GET:
            return current, current
        shown = selectors.version_numbered(request.GET["v"])
        if shown is None:
            raise Http404(gettext("没有这个版本号"))
        return shown, current

    def _publish(self, request, form, *, version, act=None, stage=None, base_path: str):
        """Publish the form's changes; on refusal put the validator's lines (with their paths) on the form."""
        try:
            new, created, warnings = services.playbook_edit(
                based_on=version, edited_by=request.user, changes=form.changes(),
                action=act, stage=stage, source=f"admin:{request.user.get_username()}",
            )
        except schema.PlaybookError as exc:
            form.add_error(None, gettext("校验未通过，未发布新版本："))
            for problem in exc.problems:
                form.add_error(None, problem)
                field = form.field_for_path(problem.split(":", 1)[0], base_path)
                if field:
                    form.add_error(field, problem)
            return None
        except services.PlaybookStale as exc:
            form.add_error(None, str(exc))
            return None
        for warning in warnings:
            self.message_user(request, gettext("注意：%s") % warning, messages.WARNING)
        if created:
            self.message_user(
                request, gettext("已发布 v%(new)s（基于 v%(old)s）。") % {"new": new.number, "old": version.number},
                messages.SUCCESS,
            )
        else:
            self.message_user(request, gettext("内容没有变化，未发布新版本。"), messages.INFO)
        return HttpResponseRedirect(request.path)


class _EditForm(forms.Form):
    """Fields map to paths inside the act or stage (`window_end` → `window.end`). The fields only parse
    (numbers are numbers); every rule is the playbook validator's, so its message is the one shown."""

    paths: dict[str, str] = {}

    def changes(self) -> dict[str, Any]:
        return {self.paths[name]: value for name, value in self.cleaned_data.items() if name in self.fields}

    def field_for_path(self, problem_path: str, base_path: str) -> str | None:
        if not problem_path.startswith(base_path + "."):
            return None
        inner = problem_path[len(base_path) + 1 :]
        for name, field_path in self.paths.items():
            if name in self.fields and (inner == field_path or inner.startswith(field_path + "[")):
                return name
        return None


class _Text(forms.CharField):
    """Text as typed: browsers send textarea lines as CRLF, and the document keeps LF (a stray CR would
    show as a change in every later comparison)."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


def _text(label, *, long: bool = False, rows: int = 4) -> forms.CharField:
    widget = forms.Textarea(attrs={"rows": rows, "cols": 90}) if long else forms.TextInput(attrs={"size": 60})
    # Not required: an empty name is the validator's to refuse, with its path. Long text is kept exactly
    # (a script's final newline is part of the document).
    return _Text(label=label, required=False, widget=widget, strip=not long)


def _number(label, *, required: bool = False) -> forms.IntegerField:
    return forms.IntegerField(label=label, required=required, widget=forms.NumberInput(attrs={"style": "width: 6em"}))


def _choices(mapping: dict) -> list[tuple[str, str]]:
    return [(code, f"{label}（{code}）") for code, label in mapping.items()]


class ChecklistField(forms.CharField):
    """The checklist as lines `代码 | 中文 | English` (the English part may be left out)."""

    widget = forms.Textarea(attrs={"rows": 6, "cols": 90})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(
                " | ".join(p for p in (item["code"], item["text"], item.get("text_en", "")) if p) for item in value
            )
        return value

    def to_python(self, value):
        items = []
        for number, line in enumerate((value or "").splitlines(), 1):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split("|")]
            if len(parts) < 2 or len(parts) > 3:
                raise forms.ValidationError(
                    gettext("第 %(n)s 行应写成「代码 | 中文 | English」：%(line)s") % {"n": number, "line": line.strip()}
                )
            items.append({"code": parts[0], "text": parts[1], "text_en": parts[2] if len(parts) == 3 else ""})
        return items


class ActForm(_EditForm):
    paths = {
        "name": "name", "name_en": "name_en", "audience": "audience",
        "window_anchor": "window.anchor", "window_start": "window.start", "window_end": "window.end",
        "window_latest_day": "window.latest_day", "deliveries": "deliveries", "content": "content",
        "task_channel": "task.channel", "task_title": "task.title", "task_title_en": "task.title_en",
        "task_script": "task.script", "task_script_en": "task.script_en", "task_checklist": "task.checklist",
        "task_max_attempts": "task.max_attempts", "task_audience": "task.audience",
        "sms_template": "sms.template", "sms_message_class": "sms.message_class",
    }
    fieldsets = [
        (_("基本信息"), ["name", "name_en", "audience", "deliveries", "content"]),
        (_("时间窗与时限"), ["window_anchor", "window_start", "window_end", "window_latest_day"]),
        (_("人工任务"), ["task_channel", "task_title", "task_title_en", "task_max_attempts", "task_audience",
                        "task_script", "task_script_en", "task_checklist"]),
        (_("短信"), ["sms_message_class", "sms_template"]),
    ]

    def __init__(self, *args, action: schema.Action, **kwargs):
        document = action.model_dump(mode="json")
        initial = {}
        for name, field_path in self.paths.items():
            value: Any = document
            for key in field_path.split("."):
                value = value.get(key) if isinstance(value, dict) else None
            initial[name] = value
        super().__init__(*args, initial=initial, **kwargs)
        f = labels.FIELDS
        self.fields.update(
            name=_text(f["name"]), name_en=_text(f["name_en"]),
            audience=_text(f["audience"]),
            deliveries=forms.MultipleChoiceField(
                label=f["deliveries"], required=False, choices=_choices(labels.DELIVERIES),
                widget=forms.CheckboxSelectMultiple,
            ),
            content=_text(f["content"], long=True),
            window_anchor=forms.ChoiceField(label=f["window.anchor"], choices=_choices(labels.ANCHORS)),
            window_start=_number(f["window.start"]), window_end=_number(f["window.end"]),
            window_latest_day=_number(f["window.latest_day"]),
        )
        # Task and SMS fields only for an act that has them: adding or removing a whole task is a change
        # to the plan's structure, made in the YAML file and loaded.
        if action.task is not None:
            self.fields.update(
                task_channel=forms.ChoiceField(label=f["task.channel"], choices=_choices(labels.CHANNELS)),
                task_title=_text(f["task.title"]), task_title_en=_text(f["task.title_en"]),
                task_max_attempts=_number(f["task.max_attempts"]),
                task_audience=_text(f["task.audience"]),
                task_script=_text(f["task.script"], long=True, rows=8),
                task_script_en=_text(f["task.script_en"], long=True, rows=6),
                task_checklist=ChecklistField(label=f["task.checklist"], required=False),
            )
        if action.sms is not None:
            self.fields.update(
                sms_message_class=forms.ChoiceField(
                    label=f["sms.message_class"], choices=_choices(labels.MESSAGE_CLASSES)
                ),
                sms_template=_text(f["sms.template"], long=True, rows=6),
            )

    def changes(self) -> dict[str, Any]:
        changes = super().changes()
        # Checkboxes come back in the choices' order; keep the act's own order for those it already had.
        before = self.initial.get("deliveries") or []
        chosen = changes["deliveries"]
        changes["deliveries"] = [d for d in before if d in chosen] + [d for d in chosen if d not in before]
        return changes

    def visible_fieldsets(self):
        for title, names in self.fieldsets:
            bound = [self[name] for name in names if name in self.fields]
            if bound:
                yield title, bound


class StageForm(_EditForm):
    paths = {"name": "name", "name_en": "name_en", "days": "days"}

    def __init__(self, *args, stage: schema.Stage, **kwargs):
        initial = {"name": stage.name, "name_en": stage.name_en, "first_day": stage.days[0], "last_day": stage.days[1]}
        super().__init__(*args, initial=initial, **kwargs)
        self.fields.update(
            name=_text(labels.FIELDS["name"]), name_en=_text(labels.FIELDS["name_en"]),
            first_day=_number(_("第一天"), required=True), last_day=_number(_("最后一天"), required=True),
        )

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"name": data["name"], "name_en": data["name_en"], "days": [data["first_day"], data["last_day"]]}

    def field_for_path(self, problem_path: str, base_path: str) -> str | None:
        if problem_path.startswith(f"{base_path}.days"):
            return "last_day"
        return super().field_for_path(problem_path, base_path)

    def visible_fieldsets(self):
        yield _("阶段"), [self[name] for name in ("name", "name_en", "first_day", "last_day")]


@admin.register(PlaybookAct)
class PlaybookActAdmin(_DocumentAdmin):
    def list_view(self, request):
        context = self._context(request, gettext("服务动作"))
        version, current = self._version(request)
        playbook = selectors.playbook_of(version)
        stage, channel = request.GET.get("stage") or None, request.GET.get("channel") or None
        rows = selectors.act_rows(playbook, stage=stage, channel=channel)

        def link(**params):
            query = {"v": request.GET.get("v"), "stage": stage, "channel": channel, **params}
            return "?" + urlencode({k: v for k, v in query.items() if v})

        context.update(
            version=version, current=current, playbook=playbook,
            rows=[_act_summary(row, playbook) for row in rows], total=len(playbook.actions),
            stage_filter=[
                {"label": gettext("全部"), "url": link(stage=""), "selected": not stage},
                *({"label": f"{s.number}. {s.name}", "url": link(stage=s.code), "selected": stage == s.code}
                  for s in playbook.stages),
            ],
            channel_filter=[
                {"label": gettext("全部"), "url": link(channel=""), "selected": not channel},
                *({"label": str(label), "url": link(channel=code), "selected": channel == code}
                  for code, label in labels.CHANNELS.items()),
                {"label": gettext("无人工任务（短信/系统）"), "url": link(channel="none"), "selected": channel == "none"},
            ],
        )
        return TemplateResponse(request, "admin/playbook/act_list.html", context)

    def detail_view(self, request, code: str):
        version, current = self._version(request)
        playbook = selectors.playbook_of(version)
        row = selectors.act_row(playbook, code)
        if row is None:
            raise Http404(gettext("当前版本没有这个服务动作"))
        context = self._context(request, f"{row.action.name}（{row.action.code}）")
        editable = context["can_edit"] and version.pk == current.pk
        form = None
        if editable:
            form = ActForm(request.POST or None, action=row.action)
            if request.method == "POST" and form.is_valid():
                done = self._publish(request, form, version=version, act=code, base_path=row.path)
                if done:
                    return done
        elif request.method == "POST":
            raise PermissionDenied
        context.update(version=version, current=current, act=_act_summary(row, playbook), action=row.action, form=form)
        return TemplateResponse(request, "admin/playbook/act_detail.html", context)


def _act_summary(row: selectors.ActRow, playbook: schema.Playbook) -> dict[str, Any]:
    action = row.action
    successor = None
    if action.superseded_by:
        successor = next((a.name for a in playbook.actions if a.code == action.superseded_by), action.superseded_by)
    task = action.task
    return {
        "code": action.code,
        "name": action.name,
        "name_en": action.name_en,
        "path": row.path,
        "stage": f"{row.stage.number}. {row.stage.name}",
        "stage_code": row.stage.code,
        "kind": labels.KINDS.get(action.kind, action.kind),
        "source": labels.SOURCES.get(action.source, action.source),
        "window": labels.window_words(action.window),
        "deadline": labels.deadline_words(action.window),
        "audience": labels.audience_words(action.audience),
        "deliveries": labels.deliveries_words(action.deliveries),
        "owner": (
            labels.CHANNELS.get(task.channel, task.channel) if task
            else labels.SYSTEM_ACTS.get(action.system, "") if action.system
            else gettext("系统自动发送")
        ),
        "attempts": task.max_attempts if task else None,
        "takeable_by": labels.value_words("task.takeable_by", task.takeable_by) if task and task.takeable_by else "",
        "pending": action.pending,
        "send_day": action.sms.send_day if action.sms else 0,
        "sms_families": sorted(action.sms.by_family.items()) if action.sms else [],
        "task_audience": labels.audience_words(task.audience) if task and task.audience != "true" else "",
        "script": task.script if task else "",
        "checklist": [item.text for item in task.checklist] if task else [],
        "sms_template": action.sms.template if action.sms else "",
        "sms_class": labels.MESSAGE_CLASSES.get(action.sms.message_class) if action.sms else "",
        "content": action.content,
        "supersede": (
            gettext("客户为%(who)s时，由「%(act)s」取代")
            % {"who": labels.audience_words(action.supersede_when), "act": successor}
            if successor else ""
        ),
    }


@admin.register(PlaybookStage)
class PlaybookStageAdmin(_DocumentAdmin):
    def list_view(self, request):
        context = self._context(request, gettext("阶段"))
        version, current = self._version(request)
        playbook = selectors.playbook_of(version)
        context.update(
            version=version, current=current,
            rows=[
                {
                    "number": stage.number, "code": stage.code, "name": stage.name, "name_en": stage.name_en,
                    "days": labels.value_words("days", list(stage.days)),
                    "source": labels.SOURCES.get(stage.source, stage.source),
                    "acts": len(stage.actions),
                    "acts_text": labels.list_words(pick(a.name, a.name_en) for a in stage.actions),
                    "acts_url": reverse("admin:playbook_playbookact_changelist") + "?" + urlencode(
                        {"stage": stage.code, **({"v": version.number} if version.pk != current.pk else {})}
                    ),
                }
                for stage in playbook.stages
            ],
        )
        return TemplateResponse(request, "admin/playbook/stage_list.html", context)

    def detail_view(self, request, code: str):
        version, current = self._version(request)
        playbook = selectors.playbook_of(version)
        index = selectors.stage_index(playbook, code)
        if index is None:
            raise Http404(gettext("当前版本没有这个阶段"))
        stage = playbook.stages[index]
        context = self._context(request, f"{stage.number}. {stage.name}")
        editable = context["can_edit"] and version.pk == current.pk
        form = None
        if editable:
            form = StageForm(request.POST or None, stage=stage)
            if request.method == "POST" and form.is_valid():
                done = self._publish(request, form, version=version, stage=code, base_path=f"stages[{index}]")
                if done:
                    return done
        elif request.method == "POST":
            raise PermissionDenied
        context.update(
            version=version, current=current, stage=stage,
            days=labels.value_words("days", list(stage.days)),
            source=labels.SOURCES.get(stage.source, stage.source),
            acts=[_act_summary(row, playbook) for row in selectors.act_rows(playbook, stage=code)],
            form=form,
        )
        return TemplateResponse(request, "admin/playbook/stage_detail.html", context)
