"""Admin for the organisation: city branches with their units, staff (also inline on the user page).

Every save and delete made here is written to the audit log with the old and new values.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count
from django.forms.models import model_to_dict
from django.utils.translation import gettext_lazy as _

from onboard90.core.services import audit_record
from onboard90.org.models import City, StaffProfile, Unit
from onboard90.org.services import staff_contact_check, staff_phone_normalise, staff_placement_check

# Never copied into the audit log (a password hash is still a secret).
SECRET_FIELDS = {"password"}


def snapshot(obj: Any) -> dict[str, Any]:
    """A model instance as JSON-safe values, for the audit log."""
    values = {}
    for key, value in model_to_dict(obj).items():
        if key in SECRET_FIELDS:
            continue
        if isinstance(value, (decimal.Decimal, dt.date, dt.datetime, dt.time)):
            value = str(value)
        elif hasattr(value, "pk"):
            value = value.pk
        elif isinstance(value, (list, tuple)):
            value = [getattr(v, "pk", v) for v in value]
        values[key] = value
    return values


class AuditedAdmin(admin.ModelAdmin):
    """ModelAdmin whose saves and deletes (inline rows included) land in the audit log."""

    def save_model(self, request, obj, form, change):
        before = snapshot(type(obj).objects.get(pk=obj.pk)) if change and obj.pk else None
        super().save_model(request, obj, form, change)
        verb = "admin.change" if change else "admin.add"
        audit_record(actor=request.user, verb=verb, obj=obj, before=before, after=snapshot(obj))

    def delete_model(self, request, obj):
        before, pk = snapshot(obj), obj.pk
        label = obj._meta.label_lower
        super().delete_model(request, obj)
        audit_record(actor=request.user, verb="admin.delete", object_type=label, object_id=str(pk), before=before)

    def delete_queryset(self, request, queryset):
        rows = [(obj._meta.label_lower, str(obj.pk), snapshot(obj)) for obj in queryset]
        super().delete_queryset(request, queryset)
        for label, pk, before in rows:
            audit_record(actor=request.user, verb="admin.delete", object_type=label, object_id=pk, before=before)

    def save_formset(self, request, form, formset, change):
        # Snapshots are taken before saving: a deleted instance has lost its pk afterwards.
        befores = {
            id(f.instance): (f.instance.pk, snapshot(type(f.instance).objects.get(pk=f.instance.pk)))
            for f in formset.forms
            if f.instance.pk and f.has_changed()
        }
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            audit_record(actor=request.user, verb="admin.add", obj=obj, after=snapshot(obj))
        for obj, _fields in formset.changed_objects:
            before = befores.get(id(obj), (None, None))[1]
            audit_record(actor=request.user, verb="admin.change", obj=obj, before=before, after=snapshot(obj))
        for obj in formset.deleted_objects:
            pk, before = befores.get(id(obj), ("", None))
            audit_record(
                actor=request.user,
                verb="admin.delete",
                object_type=obj._meta.label_lower,
                object_id=str(pk),
                before=before,
            )


class UnitInline(admin.TabularInline):
    model = Unit
    extra = 0
    fields = ["code", "kind", "name", "is_main"]


@admin.register(City)
class CityAdmin(AuditedAdmin):
    list_display = ["sort_order", "name", "code", "name_en", "area_code", "weight", "unit_count"]
    list_display_links = ["name"]
    search_fields = ["name", "code", "name_en", "area_code"]
    ordering = ["sort_order", "code"]
    inlines = [UnitInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_units=Count("units"))

    @admin.display(description=_("单位数"), ordering="_units")
    def unit_count(self, obj: City) -> int:
        return obj._units


@admin.register(Unit)
class UnitAdmin(AuditedAdmin):
    list_display = ["code", "name", "city", "kind", "is_main"]
    list_filter = ["kind", "is_main", "city"]
    search_fields = ["code", "name", "city__name"]
    list_select_related = ["city"]


class StaffProfileForm(forms.ModelForm):
    """Keeps a staff member's unit consistent with their role and city, and an account manager's name and
    work phone filled in, as `staff add` does."""

    class Meta:
        model = StaffProfile
        fields = ["role", "city", "unit", "display_name", "phone", "active"]

    def clean_phone(self):
        try:
            return staff_phone_normalise(self.cleaned_data.get("phone"))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self):
        data = super().clean()
        role, city, unit = data.get("role"), data.get("city"), data.get("unit")
        if unit is not None and role:
            try:
                staff_placement_check(role=role, city=city, unit=unit)
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from exc
        # A malformed phone is already reported on its field. An untouched profile (the user page saved
        # for other reasons) and a staff member leaving (active unticked) are not held up by the rule.
        checked = self.instance.pk is None or self.has_changed()
        if role and "phone" in data and data.get("active") and checked:
            try:
                staff_contact_check(role=role, display_name=data.get("display_name"), phone=data["phone"])
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(StaffProfile)
class StaffProfileAdmin(AuditedAdmin):
    form = StaffProfileForm
    list_display = ["user", "display_name", "phone", "role", "city", "unit", "active"]
    list_filter = ["role", "active", "city"]
    search_fields = ["user__username", "display_name", "phone", "unit__code", "unit__name"]
    list_select_related = ["user", "city", "unit"]
    autocomplete_fields = ["unit"]
    raw_id_fields = ["user"]


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    form = StaffProfileForm
    can_delete = False
    verbose_name_plural = _("员工信息")
    autocomplete_fields = ["unit"]


User = get_user_model()


class StaffUserAdmin(AuditedAdmin, UserAdmin):
    inlines = [StaffProfileInline]
    list_display = ["username", "staff_name", "staff_role", "staff_city", "is_active", "is_staff", "last_login"]
    list_filter = ["staff__role", "staff__city", "is_active", "is_staff", "is_superuser"]
    search_fields = ["username", "staff__display_name", "first_name", "last_name", "email"]
    list_select_related = ["staff", "staff__city"]

    @admin.display(description=_("姓名"), ordering="staff__display_name")
    def staff_name(self, obj) -> str:
        return getattr(getattr(obj, "staff", None), "display_name", "")

    @admin.display(description=_("角色"), ordering="staff__role")
    def staff_role(self, obj) -> str:
        profile = getattr(obj, "staff", None)
        return profile.get_role_display() if profile else ""

    @admin.display(description=_("地市"), ordering="staff__city__sort_order")
    def staff_city(self, obj) -> str:
        profile = getattr(obj, "staff", None)
        return profile.city.name if profile and profile.city else ""


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, StaffUserAdmin)
