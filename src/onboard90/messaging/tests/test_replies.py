"""Customers' replies (上行短信): TD/退订 opts out once and is confirmed once, a 1–5 answers the survey, a yes
the value-added offer (a follow-up task for the store), anything else is kept for staff — through the service,
the MO endpoint as Kannel calls it, the `replies` command, and a real Kannel's fake SMS centre."""

from __future__ import annotations

import datetime as dt
import io
import json
import urllib.parse

import pytest
from django.core.management import call_command
from django.urls import reverse

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.core.models import AuditEntry
from onboard90.customers.enums import EventType
from onboard90.customers.models import Customer, CustomerEvent
from onboard90.customers.services import DUPLICATE, UNCHANGED, UPDATED, customer_opt_out
from onboard90.journeys import cycle
from onboard90.journeys.enums import ActionStatus, TaskKind
from onboard90.journeys.models import JourneyAction, Task
from onboard90.messaging import replies
from onboard90.messaging.enums import MessageClass, MessageStatus, Purpose, ReplyKind
from onboard90.messaging.gateways import MemoryGateway
from onboard90.messaging.kannel import MO_PATH
from onboard90.messaging.models import InboundMessage, OutboxMessage
from onboard90.messaging.replies import reply_receive, reply_words
from onboard90.messaging.services import outbox_dispatch
from onboard90.messaging.tests.live_kannel import (  # noqa: F401 (fixtures of the `kannel` tests)
    SECRET,
    kannel_for_live_server_fixture,
    live_kannel_fixture,
    wait_for,
)

DAY0 = dt.date(2012, 3, 1)
HOURS = ("08:00", "21:00")
SURVEY_DAY, OFFER_DAY = 86, 32  # inside onboarding_survey's window (85–90) and vas_recommendation's (31–37)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def at(n: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return clock.at_local(day(n), hour, minute)


@pytest.fixture
def plan(db):
    """济南 with its units, the A66 package and the default playbook."""
    city = builders.city("jinan")
    builders.package("A66")
    builders.playbook_version()
    return city


def cycle_and_send(n: int, gateway=None) -> MemoryGateway:
    """The day-n cycle opens what is due and queues its SMS; a dispatch at 10:00 that day sends them."""
    gateway = gateway or MemoryGateway()
    cycle.cycle_run(as_of=clock.cycle_instant(day(n)), dispatch=False)
    outbox_dispatch(as_of=at(n, 10), quiet_hours=HOURS, gateway=gateway, now=lambda: at(n, 10))
    return gateway


def act(customer, code: str) -> JourneyAction:
    return JourneyAction.objects.get(journey__customer=customer, action_code=code)


def reply(customer_or_number, text: str, when: dt.datetime) -> InboundMessage:
    number = getattr(customer_or_number, "msisdn", customer_or_number)
    return reply_receive(msisdn=number, text=text, received_at=when)


def confirmations(customer) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(customer=customer, purpose=Purpose.OPT_OUT_CONFIRMATION))


# -- reading the words ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [("TD", "td"), ("ＴＤ", "td"), (" Td ", "td"), ("ｔｄ。", "td"), ("退订 ", "退订"), ("５分", "5分"), ("是！", "是")],
)
def test_a_reply_is_read_without_width_case_spaces_or_a_closing_full_stop(text, words):
    assert reply_words(text) == words


@pytest.mark.parametrize(
    ("number", "local"),
    [("18612345678", "18612345678"), ("+8618612345678", "18612345678"), ("008618612345678", "18612345678"),
     (" 8618612345678", "18612345678"), ("10010", "10010")],
)
def test_a_senders_number_is_read_as_customers_are_kept(number, local):
    assert replies.local_number(number) == local


def test_only_one_to_five_is_a_score():
    assert [replies.survey_score(w) for w in ("1", "5", "5分", "5 分", "0", "6", "55", "五", "5分钟")] == [
        1, 5, 5, 5, None, None, None, None, None,
    ]


# -- opting out -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["TD", "td", "Td", "ＴＤ", "ｔｄ", "退订", " 退订 ", "退订。", "TD!"])
@pytest.mark.django_db
def test_td_or_tuiding_in_any_case_and_width_opts_the_customer_out(plan, text):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    stored = reply(customer, text, at(3))
    customer.refresh_from_db()
    assert (stored.kind, stored.customer, stored.text) == (ReplyKind.OPT_OUT, customer, text)
    assert customer.marketing_opt_out is True
    assert len(confirmations(customer)) == 1


@pytest.mark.parametrize("text", ["TDD", "T D", "退订流量包", "不要退订", "td 退订"])
@pytest.mark.django_db
def test_a_reply_that_only_contains_td_is_not_an_opt_out(plan, text):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    assert reply(customer, text, at(3)).kind == ReplyKind.UNMATCHED
    customer.refresh_from_db()
    assert customer.marketing_opt_out is False and confirmations(customer) == []


@pytest.mark.django_db
def test_an_opt_out_is_a_customer_fact_audited_and_confirmed_by_one_service_sms(plan):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    before = clock.now()
    reply(customer, "TD", at(3, 20, 30))

    event = CustomerEvent.objects.get(customer=customer, type=EventType.MARKETING_OPT_OUT)
    assert event.at == at(3, 20, 30) and event.source == "sms:kannel"
    assert event.payload == {"marketing_opt_out": [False, True]}
    audit = AuditEntry.objects.get(verb="customer.opt_out", object_id=str(customer.pk))
    assert audit.after["status"] == UPDATED
    [confirmation] = confirmations(customer)
    assert confirmation.action is None and confirmation.message_class == MessageClass.SERVICE
    assert confirmation.status == MessageStatus.QUEUED and confirmation.msisdn == customer.msisdn
    assert confirmation.text == f"【中国联通】{replies.OPT_OUT_CONFIRMATION}" and "服务通知" in confirmation.text
    assert confirmation.segments == 1
    assert before <= confirmation.scheduled_at <= clock.now()
    assert confirmation.not_after == confirmation.scheduled_at + dt.timedelta(days=1)


@pytest.mark.django_db
def test_a_second_td_is_kept_but_neither_stored_as_a_fact_nor_confirmed_again(plan):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    first = reply(customer, "TD", at(3))
    again = reply(customer, "退订", at(4))
    assert [first.kind, again.kind] == [ReplyKind.OPT_OUT, ReplyKind.OPT_OUT]
    assert CustomerEvent.objects.filter(customer=customer, type=EventType.MARKETING_OPT_OUT).count() == 1
    assert len(confirmations(customer)) == 1


@pytest.mark.django_db
def test_the_confirmation_goes_out_through_the_dispatcher_and_marketing_stops(plan):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    reply(customer, "TD", at(3))
    gateway = MemoryGateway()
    now = clock.now()
    outbox_dispatch(as_of=now, quiet_hours=("00:00", "23:59"), gateway=gateway, now=lambda: now)
    assert gateway.sent == [(customer.msisdn, f"【中国联通】{replies.OPT_OUT_CONFIRMATION}")]
    # The value-added offer (marketing) is no longer opened or queued for this customer.
    cycle.cycle_run(as_of=clock.cycle_instant(day(OFFER_DAY)), dispatch=False)
    assert not JourneyAction.objects.filter(journey__customer=customer, action_code="vas_recommendation").exists()


@pytest.mark.django_db
def test_customer_opt_out_is_idempotent_by_its_key_and_by_the_customers_state(plan):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    assert customer_opt_out(customer=customer, at=at(3), source="test", idempotency_key="crm-1") == UPDATED
    assert customer_opt_out(customer=customer, at=at(3), source="test", idempotency_key="crm-1") == DUPLICATE
    assert customer_opt_out(customer=customer, at=at(5), source="test") == UNCHANGED
    assert CustomerEvent.objects.filter(type=EventType.MARKETING_OPT_OUT).count() == 1
    assert Customer.objects.get(pk=customer.pk).marketing_opt_out is True


@pytest.mark.django_db
def test_a_customer_imported_opted_out_gets_no_confirmation_for_a_td(plan):
    customer = builders.customer(city_obj=plan, activated_on=DAY0, marketing_opt_out=True)
    assert reply(customer, "TD", at(3)).kind == ReplyKind.OPT_OUT
    assert confirmations(customer) == []
    assert not CustomerEvent.objects.filter(type=EventType.MARKETING_OPT_OUT).exists()


@pytest.mark.django_db
def test_a_reply_from_an_unknown_number_is_kept_unmatched_without_a_customer(plan):
    stored = reply("13900000001", "TD", at(3))
    assert (stored.kind, stored.customer, stored.msisdn) == (ReplyKind.UNMATCHED, None, "13900000001")
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_customer_who_left_is_still_found_by_number(plan):
    from onboard90.customers.services import customer_cancel

    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    customer_cancel(customer=customer, at=at(2))
    stored = reply(f"+86{customer.msisdn}", "TD", at(3))
    assert (stored.customer, stored.kind) == (customer, ReplyKind.OPT_OUT)


# -- the survey -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "score"), [("5", 5), ("５", 5), ("5分", 5), ("５分", 5), (" 3 ", 3), ("1", 1)])
@pytest.mark.django_db
def test_a_one_to_five_answer_in_the_surveys_window_is_its_score(plan, text, score):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    cycle_and_send(SURVEY_DAY)
    survey = act(customer, "onboarding_survey")
    assert survey.status == ActionStatus.DONE  # its SMS has left: an act delivered by SMS alone is done
    stored = reply(customer, text, at(SURVEY_DAY, 11))
    assert (stored.kind, stored.action_id, stored.score) == (ReplyKind.SURVEY_SCORE, survey.pk, score)
    assert JourneyAction.objects.get(pk=survey.pk).status == ActionStatus.DONE  # nothing else moves


@pytest.mark.django_db
def test_a_vips_survey_act_still_open_for_the_managers_call_takes_the_score_too(plan):
    customer = builders.customer(city_obj=plan, activated_on=DAY0, vip_tier=builders.vip_tier("gold"))
    cycle_and_send(SURVEY_DAY)
    survey = act(customer, "onboarding_survey")
    assert survey.status == ActionStatus.OPEN and Task.objects.filter(action=survey).exists()
    stored = reply(customer, "4", at(SURVEY_DAY, 11))
    assert (stored.kind, stored.action_id, stored.score) == (ReplyKind.SURVEY_SCORE, survey.pk, 4)


@pytest.mark.parametrize("when", [at(84, 23, 59), at(91, 0, 1)])
@pytest.mark.django_db
def test_a_score_outside_the_surveys_window_is_unmatched(plan, when):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    cycle_and_send(SURVEY_DAY)
    stored = reply(customer, "5", when)
    assert (stored.kind, stored.action, stored.score) == (ReplyKind.UNMATCHED, None, None)


@pytest.mark.parametrize("text", ["6", "0", "五分", "很满意", "是"])
@pytest.mark.django_db
def test_anything_but_a_one_to_five_in_the_surveys_window_is_unmatched(plan, text):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    cycle_and_send(SURVEY_DAY)
    stored = reply(customer, text, at(SURVEY_DAY, 11))
    assert (stored.kind, stored.score) == (ReplyKind.UNMATCHED, None)


# -- the value-added offer --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1", "是", "好", "要", "１", "是。"])
@pytest.mark.django_db
def test_a_yes_to_the_open_offer_becomes_a_follow_up_task_for_the_customers_store(plan, text):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    gateway = cycle_and_send(OFFER_DAY)
    offer = act(customer, "vas_recommendation")
    assert offer.sms.status == MessageStatus.SENT and customer.msisdn in {n for n, _t in gateway.sent}

    stored = reply(customer, text, at(OFFER_DAY, 19, 5))

    assert (stored.kind, stored.action_id, stored.score) == (ReplyKind.OFFER_ACCEPTED, offer.pk, None)
    task = Task.objects.get(action=offer)
    assert (task.kind, task.status, task.owner_unit_id, task.assignee) == (
        TaskKind.ACT, ActionStatus.OPEN, customer.store_id, None,
    )
    assert task.journey_id == offer.journey_id and task.created_at == at(OFFER_DAY, 19, 5)
    assert task.due_at == clock.end_of_day(day(OFFER_DAY + 2)) and task.max_attempts == 2
    assert task.note.startswith("增值业务意向跟进") and text in task.note


@pytest.mark.django_db
def test_saying_yes_twice_makes_one_follow_up(plan):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    cycle_and_send(OFFER_DAY)
    first = reply(customer, "1", at(OFFER_DAY, 12))
    again = reply(customer, "要", at(OFFER_DAY + 1, 9))
    assert [first.kind, again.kind] == [ReplyKind.OFFER_ACCEPTED, ReplyKind.OFFER_ACCEPTED]
    assert Task.objects.filter(journey__customer=customer).count() == 1


@pytest.mark.django_db
def test_a_yes_before_the_offer_has_left_is_unmatched(plan):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    cycle.cycle_run(as_of=clock.cycle_instant(day(OFFER_DAY)), dispatch=False)  # queued, not sent
    assert act(customer, "vas_recommendation").sms.status == MessageStatus.QUEUED
    assert reply(customer, "是", at(OFFER_DAY, 12)).kind == ReplyKind.UNMATCHED
    assert not Task.objects.exists()


@pytest.mark.django_db
def test_a_yes_after_the_offers_window_or_from_a_customer_who_left_is_unmatched(plan):
    from onboard90.customers.services import customer_cancel

    stays, leaves = (builders.customer(city_obj=plan, activated_on=DAY0) for _ in range(2))
    cycle_and_send(OFFER_DAY)
    assert reply(stays, "是", at(38, 9)).kind == ReplyKind.UNMATCHED  # the window was days 31–37
    customer_cancel(customer=leaves, at=at(OFFER_DAY, 11))
    assert reply(leaves, "是", at(OFFER_DAY, 12)).kind == ReplyKind.UNMATCHED
    assert not Task.objects.exists()


def both_open(survey_send_day: int, offer_send_day: int) -> dict:
    """The default playbook with the offer's window moved onto the survey's (85–90), each act's SMS leaving on
    the given day of the window: "1" could then answer either."""
    from onboard90.playbook.services import default_document

    document = default_document()
    for stage in document["stages"]:
        for action in stage["actions"]:
            if action["code"] == "vas_recommendation":
                action["window"] = {"anchor": "activation", "start": 85, "end": 90}
                action["sms"]["send_day"] = offer_send_day
            if action["code"] == "onboarding_survey":
                action["sms"]["send_day"] = survey_send_day
    return document


@pytest.mark.parametrize(
    ("survey_send_day", "offer_send_day", "kind", "code"),
    [(0, 1, ReplyKind.OFFER_ACCEPTED, "vas_recommendation"), (1, 0, ReplyKind.SURVEY_SCORE, "onboarding_survey")],
)
@pytest.mark.django_db
def test_when_a_one_could_answer_both_the_act_whose_sms_left_last_takes_it(
    survey_send_day, offer_send_day, kind, code
):
    city = builders.city("jinan")
    builders.package("A66")
    builders.playbook_version(both_open(survey_send_day, offer_send_day))
    customer = builders.customer(city_obj=city, activated_on=DAY0)
    cycle_and_send(85)
    cycle_and_send(86)
    assert {m.status for m in OutboxMessage.objects.filter(customer=customer, action__window_start=day(85))} == {
        MessageStatus.SENT
    }
    stored = reply(customer, "1", at(86, 12))
    assert (stored.kind, stored.action_id) == (kind, act(customer, code).pk)
    assert stored.score == (1 if kind == ReplyKind.SURVEY_SCORE else None)
    assert Task.objects.filter(action__action_code="vas_recommendation").exists() == (
        kind == ReplyKind.OFFER_ACCEPTED
    )


@pytest.mark.django_db
def test_anything_else_is_kept_unmatched_for_staff(plan):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    cycle_and_send(OFFER_DAY)
    stored = reply(customer, "流量包怎么收费？", at(OFFER_DAY, 12))
    assert (stored.kind, stored.customer, stored.action, stored.score) == (ReplyKind.UNMATCHED, customer, None, None)
    assert stored.text == "流量包怎么收费？"


# -- the MO endpoint ------------------------------------------------------------------------------------------


@pytest.fixture
def secret(settings):
    settings.ONBOARD90 = {**settings.ONBOARD90, "KANNEL": {**settings.ONBOARD90["KANNEL"], "CALLBACK_SECRET": SECRET}}
    return SECRET


def mo(client, *, secret=SECRET, remote="127.0.0.1", **params):
    query = {"from": "18600000000", "to": "10086", "text": "hello", "smsc": "FAKE", "ts": "1330000000",
             "coding": "0", "charset": "UTF-8", **params}
    if secret is not None:
        query["secret"] = secret
    return client.get(MO_PATH, query, REMOTE_ADDR=remote)


def test_the_mo_endpoint_is_where_kannels_sms_service_calls():
    assert reverse("messaging:kannel-mo") == MO_PATH


@pytest.mark.django_db
def test_a_reply_through_the_endpoint_is_stored_and_answered_with_an_empty_body(client, plan, secret):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    response = mo(client, **{"from": f"+86{customer.msisdn}", "text": "ＴＤ", "ts": "1330000000", "smsc": "FAKE"})
    assert (response.status_code, response.content) == (200, b"")
    stored = InboundMessage.objects.get()
    assert (stored.customer, stored.kind, stored.text, stored.smsc, stored.gateway) == (
        customer, ReplyKind.OPT_OUT, "ＴＤ", "FAKE", "kannel",
    )
    assert stored.received_at == dt.datetime(2012, 2, 23, 12, 26, 40, tzinfo=dt.UTC)
    assert len(confirmations(customer)) == 1


@pytest.mark.django_db
def test_a_ucs2_reply_kannel_did_not_recode_is_read_in_its_charset(client, plan, secret):
    body = urllib.parse.quote("退订".encode("utf-16-be"), safe="")
    response = client.get(
        f"{MO_PATH}?from=13900000002&text={body}&coding=2&charset=UTF-16BE&secret={urllib.parse.quote(SECRET)}",
        REMOTE_ADDR="127.0.0.1",
    )
    assert response.status_code == 200
    assert InboundMessage.objects.get().text == "退订"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"from": ""}, "from is missing"),
        ({"ts": "yesterday"}, "ts is not a whole number"),
        ({"ts": "99999999999999999999"}, "ts is not a time"),
        ({"coding": "7"}, "coding is not Kannel's"),
        ({"charset": "klingon"}, "charset is unknown"),
    ],
)
@pytest.mark.django_db
def test_a_reply_with_a_bad_parameter_is_refused_with_its_reason(client, secret, params, reason):
    response = mo(client, **params)
    assert response.status_code == 400 and reason in response.content.decode()
    assert not InboundMessage.objects.exists()


@pytest.mark.django_db
def test_a_reply_without_text_is_refused(client, secret):
    response = client.get(MO_PATH, {"from": "13900000003", "secret": SECRET}, REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 400 and b"text is missing" in response.content


@pytest.mark.parametrize(
    ("kwargs", "configured"),
    [({"secret": None}, SECRET), ({"secret": "guess"}, SECRET), ({"remote": "203.0.113.9"}, SECRET), ({}, "")],
)
@pytest.mark.django_db
def test_a_caller_that_is_not_the_gateway_is_refused_and_nothing_is_stored(client, settings, kwargs, configured):
    settings.ONBOARD90 = {
        **settings.ONBOARD90, "KANNEL": {**settings.ONBOARD90["KANNEL"], "CALLBACK_SECRET": configured}
    }
    response = mo(client, **{"text": "TD", **kwargs})
    assert response.status_code == 403
    assert response.content.decode().count("\n") == 1 and "not the configured SMS gateway" in response.content.decode()
    assert not InboundMessage.objects.exists()


@pytest.mark.django_db
def test_the_endpoint_answers_get_only(client, secret):
    assert client.post(f"{MO_PATH}?secret={urllib.parse.quote(SECRET)}", {"from": "1", "text": "TD"}).status_code == 405


# -- the replies command -----------------------------------------------------------------------------------------


def run_replies(*args: str) -> str:
    out = io.StringIO()
    call_command("replies", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_staff_list_the_replies_masked_in_local_time_with_what_each_was_taken_for(plan, capsys):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    cycle_and_send(SURVEY_DAY)
    reply(customer, "5分", at(SURVEY_DAY, 9, 30))
    reply(customer, "你们的网速太慢了", at(SURVEY_DAY, 9, 45))
    reply("13900000004", "TD", at(SURVEY_DAY, 10))

    table = run_replies()
    assert customer.msisdn not in table and builders_masked(customer.msisdn) in table
    assert "满意度评分 / Survey score 5" in table and "onboarding_survey" in table
    assert f"{day(SURVEY_DAY)} 09:30" in table and "139****0004" in table and "非客户 / no customer" in table

    run_replies("--unmatched", "--json")
    rows = json.loads(capsys.readouterr().out)
    assert [(r["text"], r["kind"], r["kind_zh"], r["msisdn"]) for r in rows] == [
        ("TD", "unmatched", "未识别", "139****0004"),
        ("你们的网速太慢了", "unmatched", "未识别", builders_masked(customer.msisdn)),
    ]
    assert rows[0]["received_at"] == f"{day(SURVEY_DAY)}T10:00:00+08:00" and rows[0]["customer"] is False

    run_replies("--since", str(day(SURVEY_DAY + 1)), "--json")
    assert json.loads(capsys.readouterr().out) == []


def builders_masked(msisdn: str) -> str:
    return f"{msisdn[:3]}****{msisdn[-4:]}"


@pytest.mark.django_db
def test_the_replies_command_refuses_a_date_it_cannot_read():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a date"):
        run_replies("--since", "last week")


# -- a real Kannel: replies from the fake SMS centre's handsets ----------------------------------------------------


@pytest.mark.kannel
def test_a_td_from_a_handset_opts_the_customer_out_with_exactly_one_confirmation(live_kannel):
    builders.city("jinan")
    builders.package("A66")
    builders.playbook_version()
    customer = builders.customer(activated_on=clock.today() - dt.timedelta(days=3))

    live_kannel.peer.inject_mo(customer.msisdn, "TD")
    wait_for(live_kannel, lambda: InboundMessage.objects.filter(customer=customer).exists(), "the TD stored")
    live_kannel.peer.inject_mo(customer.msisdn, "退订")
    wait_for(live_kannel, lambda: InboundMessage.objects.filter(customer=customer).count() == 2, "退订 stored")

    with live_kannel.guard:
        kinds = list(InboundMessage.objects.filter(customer=customer).values_list("kind", flat=True))
        assert kinds == [ReplyKind.OPT_OUT, ReplyKind.OPT_OUT]
        assert Customer.objects.get(pk=customer.pk).marketing_opt_out is True
        [confirmation] = confirmations(customer)
        assert confirmation.status == MessageStatus.QUEUED
    # Kannel sends nothing back to the handset on its own (max-messages = 0, and our answer is empty): the
    # confirmation waits in the outbox for the dispatcher.
    with pytest.raises(TimeoutError):
        live_kannel.peer.wait_received(to=customer.msisdn, timeout=1.5)


@pytest.mark.kannel
def test_a_survey_answer_from_a_handset_lands_as_the_score(live_kannel):
    builders.city("jinan")
    builders.package("A66")
    builders.playbook_version()
    today = clock.today()
    customer = builders.customer(activated_on=today - dt.timedelta(days=SURVEY_DAY))
    with live_kannel.guard:
        cycle.cycle_run(as_of=clock.cycle_instant(today), dispatch=False)
        survey = act(customer, "onboarding_survey")
        ten = clock.at_local(today, 10)
        outbox_dispatch(as_of=ten, quiet_hours=HOURS, gateway=live_kannel.gateway(), now=lambda: ten)
    [question] = live_kannel.peer.wait_received(to=customer.msisdn)
    assert "回复数字1-5" in question.text

    live_kannel.peer.inject_mo(customer.msisdn, "５分")  # full-width, as UCS-2 from the handset
    wait_for(live_kannel, lambda: InboundMessage.objects.filter(customer=customer).exists(), "the answer stored")

    with live_kannel.guard:
        stored = InboundMessage.objects.get(customer=customer)
        assert (stored.text, stored.kind, stored.action_id, stored.score) == (
            "５分", ReplyKind.SURVEY_SCORE, survey.pk, 5,
        )
