"""The idempotency keys (幂等键) a customer fact is stored under when its sender gave none.

A fact arrives once per key: the same key again (a file imported twice, an event replayed) is recognised and
changes nothing. A sender may name its own key; these are the keys of the facts that came without one, built
from what makes the fact itself: one activation per number, one rating per number and instant, one bill per
number, month, instant and amount, one number change per pair, one cancellation (and one port-out) per number. The file import,
the event intake, the admin and the API all key a fact the same way, so a fact sent by two of them is
stored once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from onboard90.core.operator_time import OPERATOR_TZ


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(OPERATOR_TZ).isoformat()


def activation_key(msisdn: str) -> str:
    return f"activation:{msisdn}"


def vip_rated_key(msisdn: str, rated_at: dt.datetime) -> str:
    return f"vip_rated:{msisdn}:{_iso(rated_at)}"


def bill_issued_key(msisdn: str, bill_month: str, issued_at: dt.datetime, amount: Decimal | str) -> str:
    return f"bill_issued:{msisdn}:{bill_month}:{_iso(issued_at)}:{amount}"


def number_changed_key(msisdn: str, previous_msisdn: str) -> str:
    return f"number_changed:{msisdn}:{previous_msisdn}"


def cancellation_key(msisdn: str) -> str:
    return f"cancellation:{msisdn}"


def port_out_key(msisdn: str) -> str:
    return f"port_out:{msisdn}"
