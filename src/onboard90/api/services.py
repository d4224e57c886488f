"""Writes of the API's own records: system accounts' keys (create, revoke, mark used) and the answers kept
for idempotent requests. Every key change is audited with who made it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from onboard90.api.models import ApiKey, IdempotencyRecord, ScopeKind
from onboard90.core import clock
from onboard90.core.services import audit_record
from onboard90.org.enums import UnitKind
from onboard90.org.selectors import city_lookup, unit_lookup

KEY_PREFIX = "ob90"
# A key's account is named `api:<name>`: a colon is not allowed in the usernames of staff (Django's
# username rule, checked by staff_add), so a system account is never mistaken for a person.
ACCOUNT_PREFIX = "api:"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
# The unit kinds a unit key may be scoped to. An account-manager team's work is per manager (their own
# VIPs), not the unit's: a system account has no VIPs of its own, so such a key would reach nothing.
UNIT_KINDS = (UnitKind.STORE, UnitKind.CLUB, UnitKind.CALL_CENTRE)
# last_used_at is written at most this often per key: not one UPDATE per request.
LAST_USED_EVERY = dt.timedelta(minutes=1)


@dataclasses.dataclass(frozen=True)
class NewKey:
    key: ApiKey
    token: str  # the whole key, shown once


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def scope_parse(text: str) -> tuple[str, Any, Any]:
    """`province`, `city:<code or name>` or `unit:<code>` → (scope kind, city, unit); ValueError otherwise."""
    kind, _colon, target = (text or "").strip().partition(":")
    kind, target = kind.strip().lower(), target.strip()
    if kind == ScopeKind.PROVINCE and not target:
        return ScopeKind.PROVINCE, None, None
    if kind == ScopeKind.CITY and target:
        return ScopeKind.CITY, city_lookup(target), None
    if kind == ScopeKind.UNIT and target:
        unit = unit_lookup(target)
        if unit.kind not in UNIT_KINDS:
            raise ValueError(
                f"单位 {unit.code} 是{unit.get_kind_display()}，不能作为密钥范围（客户经理的工作按人划分，请用地市范围）"
                f" / unit {unit.code} is a {unit.kind}: an account manager's work is their own, so scope the key "
                "to the city instead"
            )
        return ScopeKind.UNIT, unit.city, unit
    raise ValueError(
        f"范围无效 / invalid scope {text!r}: province, city:<地市代码 city code> or unit:<单位代码 unit code>"
    )


def apikey_create(*, name: str, scope: str, created_by: Any = None) -> NewKey:
    """A new key for the system account `name` (bss, crm, cti…), scoped like a staff member: the province, a
    city or a unit. The account is made on its first key; a new key for a name needs the old one revoked
    first (one live key per account). The token is returned once and never stored."""
    name = (name or "").strip().lower()
    if not _NAME.match(name):
        raise ValueError(
            f"系统账号名无效 / invalid name {name!r}: lower-case letters, digits, - and _, at most 48 characters"
        )
    kind, city, unit = scope_parse(scope)
    secret = secrets.token_urlsafe(32)
    user_model = get_user_model()
    with transaction.atomic():
        if ApiKey.objects.filter(name=name, revoked_at__isnull=True).exists():
            raise ValueError(
                f"系统账号 {name} 已有有效密钥，请先吊销 / {name} already has a live key: revoke it first "
                f"(onboard90 apikey revoke {name})"
            )
        account, created = user_model.objects.get_or_create(
            **{user_model.USERNAME_FIELD: ACCOUNT_PREFIX + name}
        )
        if created:
            account.set_unusable_password()
            account.save()
        elif not account.is_active:
            account.is_active = True
            account.save(update_fields=["is_active"])
        for _attempt in range(5):
            prefix = secrets.token_hex(6)
            try:
                with transaction.atomic():
                    key = ApiKey.objects.create(
                        name=name,
                        account=account,
                        prefix=prefix,
                        secret_hash=_digest(secret),
                        scope=kind,
                        city=city,
                        unit=unit,
                        created_by=created_by,
                    )
                break
            except IntegrityError:  # the same prefix drawn twice (or a concurrent create of the same name)
                if ApiKey.objects.filter(name=name, revoked_at__isnull=True).exists():
                    raise ValueError(
                        f"系统账号 {name} 已有有效密钥 / {name} already has a live key"
                    ) from None
        else:  # pragma: no cover - five 48-bit collisions in a row
            raise ValueError("无法生成密钥，请重试 / could not draw a unique key prefix: try again")
        audit_record(actor=created_by, verb="apikey.create", obj=key, after=apikey_as_dict(key))
    return NewKey(key=key, token=f"{KEY_PREFIX}_{prefix}_{secret}")


def apikey_revoke(*, name: str, revoked_by: Any = None) -> ApiKey:
    """吊销: the account's live key stops working at once (the next request answers 401)."""
    with transaction.atomic():
        key = (
            ApiKey.objects.select_for_update()
            .filter(name=(name or "").strip().lower(), revoked_at__isnull=True)
            .first()
        )
        if key is None:
            raise ValueError(f"没有有效的密钥 / no live key for {name!r} (onboard90 apikey list)")
        key.revoked_at = clock.now()
        key.save(update_fields=["revoked_at"])
        audit_record(
            actor=revoked_by,
            verb="apikey.revoke",
            obj=key,
            before={"revoked_at": None},
            after={"name": key.name, "prefix": key.prefix, "revoked_at": key.revoked_at.isoformat()},
        )
    return key


def apikey_check(token: str) -> ApiKey | None:
    """The live key this token is, or None (malformed, unknown, wrong secret, revoked): one indexed read,
    and the secret compared in constant time. Marks the key used (at most once a minute)."""
    parts = (token or "").split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    key = (
        ApiKey.objects.select_related("account", "city", "unit")
        .filter(prefix=parts[1], revoked_at__isnull=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.secret_hash, _digest(parts[2])):
        return None
    now = clock.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def apikey_as_dict(key: ApiKey) -> dict[str, Any]:
    return {
        "name": key.name,
        "account": key.account.get_username(),
        "prefix": key.prefix,
        "scope": key.scope,
        "city": key.city.code if key.city_id else None,
        "unit": key.unit.code if key.unit_id else None,
        "created_at": key.created_at.isoformat() if key.created_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
    }


# --- idempotency ----------------------------------------------------------------------------------------


def idempotency_find(*, account: Any, key: str) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(account=account, key=key).first()


def idempotency_keep(
    *, account: Any, api_key: ApiKey | None, key: str, fingerprint: str, status: int, body: Any
) -> IdempotencyRecord:
    """Keep the first answer under (account, key). Two requests with the same key at the same moment: the
    first stored wins, and the second gets that one back (the caller compares the fingerprint)."""
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                account=account, api_key=api_key, key=key, fingerprint=fingerprint, status=status, body=body
            )
    except IntegrityError:
        return IdempotencyRecord.objects.get(account=account, key=key)


def idempotency_find_many(*, account: Any, keys: list[str]) -> dict[str, IdempotencyRecord]:
    """The records of these keys (a batch's), read in a few statements rather than one per event."""
    found: dict[str, IdempotencyRecord] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 500):
        for record in IdempotencyRecord.objects.filter(account=account, key__in=unique[start : start + 500]):
            found[record.key] = record
    return found


def idempotency_keep_many(
    *, account: Any, api_key: ApiKey | None, answers: list[tuple[str, str, int, Any]]
) -> None:
    """Keep the first answers of a batch's events — (key, fingerprint, status, body) — in one insert; a key
    stored meanwhile by a concurrent request keeps that request's answer (ON CONFLICT DO NOTHING)."""
    if answers:
        IdempotencyRecord.objects.bulk_create(
            [
                IdempotencyRecord(
                    account=account,
                    api_key=api_key,
                    key=key,
                    fingerprint=fingerprint,
                    status=status,
                    body=body,
                )
                for key, fingerprint, status, body in answers
            ],
            ignore_conflicts=True,
            batch_size=500,
        )
