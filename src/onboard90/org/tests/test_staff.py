"""Adding and listing staff: default units by role, placement rules, passwords, audit, the CLI."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from onboard90.core.models import AuditEntry
from onboard90.org.enums import Role
from onboard90.org.selectors import staff_list, supervisors_of, unit_lookup
from onboard90.org.services import reference_data_install, staff_add

pytestmark = pytest.mark.django_db

PASSWORD = "Quancheng-Road-2012"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    # Production-strength hashing costs ~0.3 s per password; these tests are about placement, not cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def installed():
    reference_data_install()


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def run_json(capsys, *args: str):
    """--json goes to the process's stdout (one document, nothing else), so read it from there."""
    capsys.readouterr()
    call_command(*args, "--json", stdout=StringIO(), stderr=StringIO())
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("role", "unit_code"),
    [
        (Role.STORE_CLERK, "jinan-store-1"),
        (Role.CLUB_STAFF, "jinan-club"),
        (Role.CALL_CENTRE_AGENT, "jinan-cc"),
        (Role.ACCOUNT_MANAGER, "jinan-am"),
        (Role.SUPERVISOR, None),
        (Role.PROVINCE_ADMIN, None),
    ],
)
def test_each_role_gets_its_default_unit_in_the_city(role, unit_code):
    contact = {"display_name": "王磊", "phone": "18653112345"} if role == Role.ACCOUNT_MANAGER else {}
    user = staff_add(username=f"u-{role}", role=role, city="济南", **contact)
    profile = user.staff
    assert profile.role == role
    assert profile.city.code == "jinan"
    assert (profile.unit.code if profile.unit else None) == unit_code


def test_flags_follow_the_role():
    clerk = staff_add(username="clerk", role=Role.STORE_CLERK, city="jinan")
    supervisor = staff_add(username="sup", role=Role.SUPERVISOR, city="jinan")
    admin = staff_add(username="admin", role=Role.PROVINCE_ADMIN, city=None)
    assert (clerk.is_staff, clerk.is_superuser) == (False, False)
    assert (supervisor.is_staff, supervisor.is_superuser) == (True, False)
    assert (admin.is_staff, admin.is_superuser) == (True, True)
    assert admin.staff.city is None


def test_a_clerk_may_be_placed_in_another_store_of_the_same_city():
    user = staff_add(username="li", role=Role.STORE_CLERK, city="0532", unit="qingdao-store-3")
    assert user.staff.unit.code == "qingdao-store-3"


@pytest.mark.parametrize(
    ("role", "unit_code", "reason"),
    [
        (Role.CLUB_STAFF, "jinan-store-2", "a club_staff works in a unit of kind club"),
        (Role.STORE_CLERK, "jinan-cc", "a store_clerk works in a unit of kind store"),
        (Role.ACCOUNT_MANAGER, "jinan-club", "kind account_manager_team"),
        (Role.CALL_CENTRE_AGENT, "jinan-am", "kind call_centre"),
    ],
)
def test_a_unit_of_the_wrong_kind_is_rejected(role, unit_code, reason):
    with pytest.raises(ValueError, match=reason):
        staff_add(username="x", role=role, city="jinan", unit=unit_code)
    assert not get_user_model().objects.filter(username="x").exists()


def test_a_unit_of_another_city_is_rejected_in_chinese_and_english():
    with pytest.raises(ValueError) as err:
        staff_add(username="x", role=Role.STORE_CLERK, city="jinan", unit="qingdao-store-1")
    assert "属于青岛，不属于济南" in str(err.value)
    assert "belongs to Qingdao, not Jinan" in str(err.value)


def test_a_supervisor_may_sit_in_a_unit_of_their_city_but_an_admin_in_none():
    sup = staff_add(username="sup", role=Role.SUPERVISOR, city="jinan", unit="jinan-store-2")
    assert sup.staff.unit.code == "jinan-store-2"
    with pytest.raises(ValueError, match="province administrator belongs to no unit"):
        staff_add(username="adm", role=Role.PROVINCE_ADMIN, city="jinan", unit="jinan-store-1")


@pytest.mark.parametrize("city", ["北京", "0100"])
def test_an_unknown_city_is_rejected(city):
    with pytest.raises(ValueError, match="unknown city"):
        staff_add(username="x", role=Role.STORE_CLERK, city=city)


def test_every_role_but_province_admin_needs_a_city():
    with pytest.raises(ValueError, match="needs a city"):
        staff_add(username="x", role=Role.STORE_CLERK, city=None)


def test_unknown_unit_and_unknown_role_are_rejected():
    with pytest.raises(ValueError, match="unknown unit"):
        staff_add(username="x", role=Role.STORE_CLERK, city="jinan", unit="jinan-store-99")
    with pytest.raises(ValueError, match="unknown role"):
        staff_add(username="x", role="janitor", city="jinan")


def test_a_duplicate_username_is_rejected_whatever_its_case():
    staff_add(username="zhang", role=Role.STORE_CLERK, city="jinan")
    for name in ["zhang", "Zhang"]:
        with pytest.raises(ValueError, match="username already exists"):
            staff_add(username=name, role=Role.CLUB_STAFF, city="jinan")
    assert get_user_model().objects.filter(username__iexact="zhang").count() == 1


def test_an_invalid_username_is_rejected():
    with pytest.raises(ValueError, match="invalid username"):
        staff_add(username="zhang san", role=Role.STORE_CLERK, city="jinan")


def test_a_password_is_stored_hashed_and_none_means_no_login():
    with_pw = staff_add(username="a", role=Role.STORE_CLERK, city="jinan", password=PASSWORD)
    without = staff_add(username="b", role=Role.STORE_CLERK, city="jinan")
    assert with_pw.password != PASSWORD and with_pw.check_password(PASSWORD)
    assert not without.has_usable_password()


def test_a_weak_password_is_refused_and_nothing_is_created():
    with pytest.raises(ValueError, match="password rejected"):
        staff_add(username="weak", role=Role.STORE_CLERK, city="jinan", password="123")
    assert not get_user_model().objects.filter(username="weak").exists()


def test_adding_staff_is_audited_with_the_actor_and_without_the_password():
    admin = staff_add(username="admin", role=Role.PROVINCE_ADMIN, city=None)
    staff_add(username="zhang", role=Role.STORE_CLERK, city="jinan", password=PASSWORD, added_by=admin)
    entry = AuditEntry.objects.filter(verb="staff.add").latest("id")
    assert entry.actor == admin
    assert entry.after["username"] == "zhang" and entry.after["unit"] == "jinan-store-1"
    assert PASSWORD not in json.dumps(entry.after)


def test_staff_list_filters_by_city_and_role():
    staff_add(username="j1", role=Role.STORE_CLERK, city="jinan")
    staff_add(username="j2", role=Role.CLUB_STAFF, city="jinan")
    staff_add(username="q1", role=Role.STORE_CLERK, city="qingdao")
    assert [p.user.username for p in staff_list(city="济南")] == ["j2", "j1"]  # by role: club_staff < store_clerk
    assert [p.user.username for p in staff_list(role=Role.STORE_CLERK)] == ["j1", "q1"]
    assert [p.user.username for p in staff_list(city="qingdao", role=Role.CLUB_STAFF)] == []


def test_supervisors_of_a_unit_prefer_the_one_sitting_in_it():
    staff_add(username="a-city", role=Role.SUPERVISOR, city="jinan")
    staff_add(username="z-store", role=Role.SUPERVISOR, city="jinan", unit="jinan-store-2")
    staff_add(username="q-sup", role=Role.SUPERVISOR, city="qingdao")
    store2 = unit_lookup("jinan-store-2")
    assert [u.username for u in supervisors_of(store2)] == ["z-store", "a-city"]
    assert [u.username for u in supervisors_of(unit_lookup("jinan-cc"))] == ["a-city", "z-store"]
    assert [u.username for u in supervisors_of(unit_lookup("laiwu-cc"))] == []


def test_cli_staff_add_then_list_as_json(capsys):
    text = run("staff", "add", "zhangsan", "--role", "store_clerk", "--city", "济南市", "--name", "张三")
    assert "已添加员工" in text and "staff added" in text and "jinan-store-1" in text
    run("staff", "add", "lisi", "--role", "account_manager", "--city", "qingdao", "--password", PASSWORD,
        "--name", "李四", "--phone", "0532-88881234")  # fmt: skip

    rows = run_json(capsys, "staff", "list")
    assert [r["username"] for r in rows] == ["zhangsan", "lisi"]
    assert rows[0] == {
        "username": "zhangsan",
        "display_name": "张三",
        "role": "store_clerk",
        "role_name": "营业员",
        "city": "jinan",
        "city_name": "济南",
        "unit": "jinan-store-1",
        "unit_name": "济南泉城路营业厅",
        "phone": "",
        "active": True,
        "is_staff": False,
        "is_superuser": False,
        "can_log_in": False,
    }
    assert rows[1]["unit"] == "qingdao-am" and rows[1]["can_log_in"] is True
    assert (rows[1]["display_name"], rows[1]["phone"]) == ("李四", "0532-88881234")
    assert [r["username"] for r in run_json(capsys, "staff", "list", "--city", "0532")] == ["lisi"]
    assert "zhangsan" in run("staff", "list") and "张三" in run("staff", "list")


def test_cli_staff_add_reports_a_bad_unit_as_a_one_line_error():
    with pytest.raises(CommandError, match="belongs to Qingdao, not Jinan"):
        run("staff", "add", "x", "--role", "store_clerk", "--city", "jinan", "--unit", "qingdao-store-1")
