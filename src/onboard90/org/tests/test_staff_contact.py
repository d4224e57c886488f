"""An account manager's name and work phone: the VIP tier notice gives both to the customer, so adding an
account manager without them is refused, by `staff_add`, the `staff` command and the admin alike."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from onboard90.core.models import AuditEntry
from onboard90.org.admin import StaffProfileForm
from onboard90.org.enums import Role
from onboard90.org.models import City, StaffProfile, Unit
from onboard90.org.services import (
    staff_add,
    staff_contact_check,
    staff_phone_normalise,
)

# The staff tests' own set-up (fast password hashing, the organisation installed) and their command runner.
from onboard90.org.tests.test_staff import fast_hashing, installed, run  # noqa: F401 (autouse fixtures)

pytestmark = pytest.mark.django_db

PASSWORD = "Province-Admin-2012"
REFUSED = "客户经理须填写姓名和工作电话 / an account manager needs a display name and a work phone (--name, --phone)"


def test_account_manager_without_work_phone_is_refused():
    with pytest.raises(ValueError) as refused:
        staff_add(username="wang", role=Role.ACCOUNT_MANAGER, city="jinan", display_name="王磊")
    assert str(refused.value) == REFUSED
    assert not StaffProfile.objects.exists()


def test_account_manager_without_display_name_is_refused():
    for name in ("", "   "):
        with pytest.raises(ValueError, match="客户经理须填写姓名和工作电话"):
            staff_add(
                username="wang", role=Role.ACCOUNT_MANAGER, city="jinan", display_name=name, phone="8888123"
            )


def test_account_manager_with_name_and_work_phone_is_accepted_and_stored():
    user = staff_add(
        username="wang", role=Role.ACCOUNT_MANAGER, city="jinan", display_name=" 王磊 ", phone=" 18653112345 "
    )
    profile = StaffProfile.objects.get(user=user)
    assert (profile.display_name, profile.phone, profile.unit.code) == ("王磊", "18653112345", "jinan-am")
    assert AuditEntry.objects.get(verb="staff.add").after["phone"] == "18653112345"


@pytest.mark.parametrize("phone", ["18653112345", "0531-88881234", "053188881234", "8888123", "010-12345678"])
def test_work_phone_may_be_a_mobile_or_a_landline_with_its_area_code(phone):
    assert staff_phone_normalise(phone) == phone
    user = staff_add(username="li", role=Role.ACCOUNT_MANAGER, city="jinan", display_name="李娜", phone=phone)
    assert user.staff.phone == phone


@pytest.mark.parametrize(
    "phone",
    ["186-5311-2345", "0531 88881234", "1865311234x", "123456", "1234567890123", "-18653112345", "18653112345-",
     "531-88881234", "+8618653112345", "１８６５３１１２３４５"],
)  # fmt: skip
def test_a_bad_work_phone_is_refused(phone):
    with pytest.raises(ValueError, match="工作电话格式不对 / bad work phone"):
        staff_add(username="li", role=Role.ACCOUNT_MANAGER, city="jinan", display_name="李娜", phone=phone)
    with pytest.raises(ValueError, match="工作电话格式不对"):  # whatever the role
        staff_add(username="li", role=Role.STORE_CLERK, city="jinan", phone=phone)
    assert not StaffProfile.objects.exists()


@pytest.mark.parametrize("role", [Role.STORE_CLERK, Role.CLUB_STAFF, Role.CALL_CENTRE_AGENT, Role.SUPERVISOR])
def test_store_clerk_and_other_roles_need_neither_name_nor_phone(role):
    user = staff_add(username="zhang", role=role, city="jinan")
    assert (user.staff.display_name, user.staff.phone) == ("", "")


def test_staff_contact_check_is_the_rule_on_its_own():
    staff_contact_check(role=Role.STORE_CLERK, display_name="", phone="")
    staff_contact_check(role=Role.ACCOUNT_MANAGER, display_name="王磊", phone="0531-88881234")
    with pytest.raises(ValueError, match="客户经理须填写姓名和工作电话"):
        staff_contact_check(role=Role.ACCOUNT_MANAGER, display_name="王磊", phone=None)
    with pytest.raises(ValueError, match="工作电话格式不对"):
        staff_contact_check(role=Role.ACCOUNT_MANAGER, display_name="王磊", phone="12")


# --- the `staff` command


def test_staff_command_takes_phone_and_name():
    text = run("staff", "add", "wang", "--role", "account_manager", "--city", "济南", "--name", "王磊",
               "--phone", "0531-88881234")  # fmt: skip
    assert "工作电话 / work phone: 0531-88881234" in text
    profile = StaffProfile.objects.get(user__username="wang")
    assert (profile.display_name, profile.phone) == ("王磊", "0531-88881234")
    listing = run("staff", "list")
    assert "0531-88881234" in listing and "工作电话" in listing


def test_staff_command_refuses_an_account_manager_without_phone():
    with pytest.raises(CommandError, match="an account manager needs a display name and a work phone"):
        run("staff", "add", "wang", "--role", "account_manager", "--city", "济南", "--name", "王磊")
    assert not StaffProfile.objects.exists()


# --- the admin


def form_data(**fields):
    jinan = City.objects.get(code="jinan")
    data = {"role": "account_manager", "city": jinan.pk, "unit": Unit.objects.get(code="jinan-am").pk,
            "display_name": "王磊", "phone": "18653112345", "active": "on"}  # fmt: skip
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def test_admin_form_refuses_an_account_manager_without_work_phone():
    form = StaffProfileForm(data=form_data(phone=""))
    assert not form.is_valid()
    assert REFUSED in form.non_field_errors()


def test_admin_form_refuses_an_account_manager_without_display_name():
    form = StaffProfileForm(data=form_data(display_name=""))
    assert not form.is_valid()
    assert REFUSED in form.non_field_errors()


def test_admin_form_reports_a_bad_work_phone_on_its_field():
    form = StaffProfileForm(data=form_data(phone="0531 8888"))
    assert not form.is_valid()
    assert "工作电话格式不对" in " ".join(form.errors["phone"])
    assert REFUSED not in form.non_field_errors()


def test_admin_form_accepts_a_store_clerk_without_phone_and_a_complete_account_manager():
    store = Unit.objects.get(code="jinan-store-1")
    clerk = form_data(role="store_clerk", unit=store.pk, display_name="", phone="")
    assert StaffProfileForm(data=clerk).is_valid()
    assert StaffProfileForm(data=form_data()).is_valid()


def test_admin_page_refuses_to_make_a_clerk_an_account_manager_without_phone(client):
    staff_add(username="admin", role=Role.PROVINCE_ADMIN, city=None, password=PASSWORD)
    clerk = staff_add(username="zhang", role=Role.STORE_CLERK, city="jinan", display_name="张三").staff
    assert client.login(username="admin", password=PASSWORD)
    url = f"/admin/org/staffprofile/{clerk.pk}/change/"

    response = client.post(url, form_data(display_name="张三", phone=""))
    assert response.status_code == 200
    assert "an account manager needs a display name and a work phone" in response.content.decode()
    clerk.refresh_from_db()
    assert clerk.role == Role.STORE_CLERK

    response = client.post(url, form_data(display_name="张三", phone="18653112345"))
    assert response.status_code == 302
    clerk.refresh_from_db()
    assert (clerk.role, clerk.phone) == (Role.ACCOUNT_MANAGER, "18653112345")
    assert AuditEntry.objects.filter(verb="admin.change").latest("id").after["phone"] == "18653112345"


def test_admin_lets_an_account_manager_recorded_without_phone_be_marked_as_leaving():
    user = get_user_model().objects.create_user(username="zhao")
    legacy = StaffProfile.objects.create(
        user=user, role=Role.ACCOUNT_MANAGER, city=City.objects.get(code="jinan"),
        unit=Unit.objects.get(code="jinan-am"), display_name="赵刚",
    )  # fmt: skip
    leaving = StaffProfileForm(data=form_data(display_name="赵刚", phone="", active=None), instance=legacy)
    assert leaving.is_valid(), leaving.errors
    staying = StaffProfileForm(data=form_data(display_name="赵强", phone=""), instance=legacy)
    assert not staying.is_valid()
    assert REFUSED in staying.non_field_errors()
