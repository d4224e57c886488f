"""The admin pages for the organisation and the catalogue render, and edits made there are audited."""

import pytest

from onboard90.catalog.services import catalog_install
from onboard90.core.models import AuditEntry
from onboard90.org.models import City, StaffProfile, Unit
from onboard90.org.services import reference_data_install, staff_add

pytestmark = pytest.mark.django_db

PASSWORD = "Province-Admin-2012"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    # Production-strength hashing costs ~0.3 s per password; these tests are about placement, not cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_client(client):
    reference_data_install()
    catalog_install()
    staff_add(username="admin", role="province_admin", city=None, password=PASSWORD)
    staff_add(username="zhang", role="store_clerk", city="jinan", display_name="张三")
    assert client.login(username="admin", password=PASSWORD)
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/org/city/", "/admin/org/unit/", "/admin/org/staffprofile/", "/admin/auth/user/",
        "/admin/catalog/package/", "/admin/catalog/viptier/", "/admin/catalog/referenceitem/",
        "/admin/org/unit/?kind__exact=store&q=济南", "/admin/auth/user/?staff__role__exact=store_clerk",
    ],
)  # fmt: skip
def test_changelists_render_in_chinese(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 200
    assert 'lang="zh-hans"' in response.content.decode()


def test_change_pages_with_inlines_render(admin_client):
    jinan = City.objects.get(code="jinan")
    assert "jinan-store-5" in admin_client.get(f"/admin/org/city/{jinan.pk}/change/").content.decode()
    zhang = StaffProfile.objects.get(user__username="zhang").user
    assert "张三" in admin_client.get(f"/admin/auth/user/{zhang.pk}/change/").content.decode()


def test_an_admin_edit_is_audited_with_old_and_new_values(admin_client):
    unit = Unit.objects.get(code="laiwu-store-1")
    response = admin_client.post(
        f"/admin/org/unit/{unit.pk}/change/",
        {"code": unit.code, "city": unit.city_id, "kind": "store", "name": "莱芜凤城营业厅", "is_main": "on"},
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.filter(verb="admin.change").latest("id")
    assert entry.actor.username == "admin"
    assert (entry.before["name"], entry.after["name"]) == ("莱芜鲁中大街营业厅", "莱芜凤城营业厅")


def test_the_staff_form_refuses_a_unit_of_another_city(admin_client):
    profile = StaffProfile.objects.get(user__username="zhang")
    response = admin_client.post(
        f"/admin/org/staffprofile/{profile.pk}/change/",
        {
            "role": "store_clerk",
            "city": profile.city_id,
            "unit": Unit.objects.get(code="qingdao-store-1").pk,
            "display_name": "张三",
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "belongs to Qingdao, not Jinan" in response.content.decode()
    profile.refresh_from_db()
    assert profile.unit.code == "jinan-store-1"


def test_user_snapshots_in_the_audit_log_never_carry_the_password_hash(admin_client):
    zhang = StaffProfile.objects.get(user__username="zhang").user
    response = admin_client.post(
        f"/admin/auth/user/{zhang.pk}/change/",
        {
            "username": "zhang", "first_name": "", "last_name": "", "email": "", "is_active": "on",
            "date_joined_0": "2012-03-01", "date_joined_1": "10:00:00",
            "staff-TOTAL_FORMS": "1", "staff-INITIAL_FORMS": "1", "staff-MIN_NUM_FORMS": "0",
            "staff-MAX_NUM_FORMS": "1", "staff-0-id": zhang.staff.pk, "staff-0-user": zhang.pk,
            "staff-0-role": "store_clerk", "staff-0-city": zhang.staff.city_id,
            "staff-0-unit": zhang.staff.unit_id, "staff-0-display_name": "张三丰", "staff-0-active": "on",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    entries = AuditEntry.objects.filter(verb="admin.change")
    assert {e.object_type for e in entries} == {"auth.user", "org.staffprofile"}
    assert all("password" not in (e.before or {}) and "password" not in (e.after or {}) for e in entries)
    assert entries.get(object_type="org.staffprofile").after["display_name"] == "张三丰"
