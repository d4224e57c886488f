"""Who sees what: the scope rule (plain Python) and the filters it gives each kind of user."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onboard90 import testing as builders
from onboard90.customers.models import Customer
from onboard90.journeys.scoping import customer_filter, task_filter
from onboard90.org.scoping import (
    CITY,
    MANAGER,
    NOTHING,
    PROVINCE,
    UNIT,
    scope_for,
    scope_of,
)

ROLES = ["store_clerk", "club_staff", "call_centre_agent", "account_manager", "supervisor", "province_admin", None]


def scope(role, *, active=True, superuser=False, city_id=1, unit_id=10):
    return scope_for(role=role, active=active, superuser=superuser, user_id=7, city_id=city_id, unit_id=unit_id)


def test_each_role_gets_the_scope_the_design_gives_it():
    assert scope("province_admin").kind == PROVINCE
    assert scope("supervisor").kind == CITY and scope("supervisor").city_id == 1
    assert scope("store_clerk").kind == UNIT and scope("store_clerk").unit_id == 10
    assert scope("club_staff").kind == UNIT
    assert scope("call_centre_agent").kind == UNIT
    assert scope("account_manager").kind == MANAGER


@given(role=st.sampled_from(ROLES), superuser=st.booleans())
def test_an_inactive_account_sees_nothing_unless_superuser(role, superuser):
    got = scope(role, active=False, superuser=superuser)
    assert got.kind == (PROVINCE if superuser else NOTHING)


def test_a_role_without_its_place_sees_nothing():
    assert scope("store_clerk", unit_id=None).kind == NOTHING
    assert scope("supervisor", city_id=None).kind == NOTHING
    assert scope(None).kind == NOTHING


@pytest.mark.django_db
def test_anonymous_and_profile_less_users_see_nothing():
    from django.contrib.auth.models import AnonymousUser, User

    assert scope_of(AnonymousUser()).kind == NOTHING
    assert scope_of(User.objects.create_user("nobody")).kind == NOTHING


@pytest.mark.django_db
def test_store_clerk_sees_own_store_customers_and_supervisor_own_city():
    jinan, qingdao = builders.city("jinan"), builders.city("qingdao")
    builders.package("A66")
    builders.playbook_version()
    jinan_store = builders.unit(jinan, "store")
    in_jinan = builders.customer(city_obj=jinan, activated_on=dt.date(2012, 3, 1))
    in_qingdao = builders.customer(city_obj=qingdao, activated_on=dt.date(2012, 3, 1))
    clerk = builders.staff("clerk", role="store_clerk", city_obj=jinan, unit_obj=jinan_store)
    supervisor = builders.staff("supervisor", role="supervisor", city_obj=qingdao)

    seen_by_clerk = set(Customer.objects.filter(customer_filter(scope_of(clerk))).values_list("pk", flat=True))
    seen_by_supervisor = set(
        Customer.objects.filter(customer_filter(scope_of(supervisor))).values_list("pk", flat=True)
    )

    assert in_qingdao.pk not in seen_by_clerk
    assert (in_jinan.pk in seen_by_clerk) == (in_jinan.store_id == jinan_store.pk)
    assert seen_by_supervisor == {in_qingdao.pk}


@pytest.mark.django_db
def test_account_manager_sees_only_own_vip_customers():
    jinan = builders.city("jinan")
    builders.package("A66")
    builders.playbook_version()
    manager = builders.staff("manager", role="account_manager", city_obj=jinan)
    other = builders.staff("other_am", role="account_manager", city_obj=jinan)
    mine = builders.customer(city_obj=jinan, activated_on=dt.date(2012, 3, 1))
    theirs = builders.customer(city_obj=jinan, activated_on=dt.date(2012, 3, 1))
    Customer.objects.filter(pk=mine.pk).update(account_manager=manager)
    Customer.objects.filter(pk=theirs.pk).update(account_manager=other)

    seen = set(Customer.objects.filter(customer_filter(scope_of(manager))).values_list("pk", flat=True))

    assert seen == {mine.pk}


def test_nobody_filter_matches_no_task():
    from onboard90.org.scoping import Scope

    assert "pk__in" in str(task_filter(Scope(NOTHING)))
