"""Every gateway meets the one interface the dispatcher reads, and the set-up service installs once."""

from __future__ import annotations

import datetime as dt
import inspect
import json
from typing import Protocol

import pytest
from django.apps import apps

from onboard90.installation import install_reference_data
from onboard90.messaging import gateways
from onboard90.messaging.gateways import (
    BufferedFileGateway,
    FileGateway,
    RecoverableGateway,
    SendResult,
    SmsGateway,
    gateway_from_settings,
)

GATEWAYS = sorted(
    (
        cls for _name, cls in inspect.getmembers(gateways, inspect.isclass)
        if cls.__module__ == gateways.__name__ and cls.__name__.endswith("Gateway")
        and Protocol not in cls.__mro__
    ),
    key=lambda cls: cls.__name__,
)
# The ones that can say which messages they took (`accepted`, optional): the others get a crash's batch again.
RECOVERABLE = [cls for cls in GATEWAYS if callable(getattr(cls, "accepted", None))]


def make(cls, tmp_path):
    """An instance, given a file in tmp_path when the gateway writes one."""
    return cls(tmp_path / "sms.jsonl") if "path" in inspect.signature(cls).parameters else cls()


def test_the_module_has_the_gateways_the_engine_uses():
    assert {cls.__name__ for cls in GATEWAYS} >= {
        "BufferedFileGateway", "ConsoleGateway", "FileGateway", "MemoryGateway", "NullGateway",
    }
    assert {cls.__name__ for cls in RECOVERABLE} >= {"FileGateway", "MemoryGateway"}


@pytest.mark.parametrize("cls", GATEWAYS, ids=lambda cls: cls.__name__)
def test_every_gateway_declares_what_the_dispatcher_reads(cls, tmp_path, capsys):
    declared = set(SmsGateway.__annotations__) | {"send"}
    assert declared == {"name", "batch", "send"}
    assert all(hasattr(cls, attr) for attr in declared)
    assert isinstance(cls.name, str) and cls.name
    assert isinstance(cls.batch, int) and cls.batch > 0
    assert {"msisdn", "text", "message_id"} <= set(inspect.signature(cls.send).parameters)
    gateway = make(cls, tmp_path)
    assert isinstance(gateway, SmsGateway)
    result = gateway.send(msisdn="18612345678", text="欢迎", message_id=7)
    assert isinstance(result, SendResult) and result.ok and result.ref


@pytest.mark.parametrize("cls", RECOVERABLE, ids=lambda cls: cls.__name__)
def test_a_gateway_that_can_tell_what_it_took_says_so_for_what_it_sent(cls, tmp_path):
    gateway = make(cls, tmp_path)
    assert isinstance(gateway, RecoverableGateway)
    result = gateway.send(msisdn="18612345678", text="欢迎", message_id=7)
    asked = {7: ("18612345678", "欢迎"), 8: ("18612345679", "欢迎")}
    assert gateway.accepted(asked) == {7: result.ref}


def test_gateways_have_names_of_their_own():
    names = [cls.name for cls in GATEWAYS]
    assert len(names) == len(set(names))


def test_the_default_rounds_and_the_demos_larger_ones():
    others = [cls for cls in GATEWAYS if cls is not BufferedFileGateway]
    assert {cls.__name__: cls.batch for cls in others} == {cls.__name__: gateways.SEND_BATCH for cls in others}
    assert BufferedFileGateway.batch == 2000


def test_the_buffered_gateway_writes_on_flush_stamped_with_its_time(tmp_path):
    path = tmp_path / "sms-sent.jsonl"
    gateway = BufferedFileGateway(path)
    gateway.as_of = dt.datetime(2012, 3, 1, 9, tzinfo=dt.UTC)
    assert gateway.send(msisdn="18612345678", text="欢迎", message_id=7) == SendResult(ok=True, ref="demo:7")
    assert not path.exists()
    gateway.flush()
    gateway.flush()  # nothing new: nothing written
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": 7, "to": "18612345678", "text": "欢迎", "at": "2012-03-01T09:00:00+00:00"}
    ]


def test_the_gateway_from_settings(settings, tmp_path):
    settings.ONBOARD90 = {**settings.ONBOARD90, "SMS_GATEWAY": "file", "SMS_FILE": str(tmp_path / "sms.jsonl")}
    assert isinstance(gateway_from_settings(), FileGateway)
    settings.ONBOARD90 = {**settings.ONBOARD90, "SMS_GATEWAY": "console"}
    assert gateway_from_settings().name == "console"
    kannel = {**settings.ONBOARD90["KANNEL"], "PASSWORD": "s3cret"}
    settings.ONBOARD90 = {**settings.ONBOARD90, "SMS_GATEWAY": "kannel", "KANNEL": kannel}
    assert gateway_from_settings().name == "kannel"
    settings.ONBOARD90 = {**settings.ONBOARD90, "SMS_GATEWAY": "smpp"}
    with pytest.raises(ValueError, match="unknown SMS gateway"):
        gateway_from_settings()


@pytest.mark.django_db
def test_installing_the_reference_data_twice_creates_nothing_the_second_time():
    def rows() -> dict[str, int]:
        return {model._meta.label: model.objects.count() for model in apps.get_models()}

    first = install_reference_data()
    assert first["cities"]["created"] == 17 and first["playbook"]["published"] is True
    after_first = rows()
    second = install_reference_data()
    assert rows() == after_first
    counts = {key: value for key, value in second.items() if key != "playbook"}
    assert set(counts) == {"cities", "units", "packages", "vip_tiers", "reference_items", "offers"}
    # (The offers are on file before the first install too: the migration that made their table seeded them.)
    assert all(
        c["created"] == 0 and c["unchanged"] == first[key]["created"] + first[key]["unchanged"]
        for key, c in counts.items()
    )
    assert second["playbook"] == {**first["playbook"], "published": False}
