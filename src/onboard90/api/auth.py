"""Who is calling: a system account by its key (`Authorization: Bearer ob90_…`), or a staff member signed
in to the web (their session). Either way the caller is a user whose scope `org.scoping.scope_of` reads,
so every rule of the web (scoping, who may work or reassign a task, who handles escalations) applies to the
API unchanged.

A key's account has no staff profile in the database: on each request it is given one in memory, built
from the key's scope — province → 省公司管理员, city → 地市分公司主管, unit → that unit's staff (营业员,
俱乐部人员 or 客服代表). The organisation's rules read it as they read a person's; the engine's queries,
which read the profiles table (the supervisor an escalation goes to, the account managers VIPs are
assigned to, the staff a task may be reassigned to), never see it.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, get_authorization_header
from rest_framework.throttling import SimpleRateThrottle

from onboard90.api.models import ApiKey, ScopeKind
from onboard90.api.services import apikey_check
from onboard90.org.enums import Role, UnitKind
from onboard90.org.models import StaffProfile
from onboard90.org.scoping import Scope, scope_of

ROLE_OF_UNIT = {
    UnitKind.STORE: Role.STORE_CLERK,
    UnitKind.CLUB: Role.CLUB_STAFF,
    UnitKind.CALL_CENTRE: Role.CALL_CENTRE_AGENT,
}


def key_profile(key: ApiKey) -> StaffProfile:
    """The staff profile a key acts with (never saved): its scope in the organisation's terms."""
    if key.scope == ScopeKind.PROVINCE:
        role, city_id, unit_id = Role.PROVINCE_ADMIN, None, None
    elif key.scope == ScopeKind.CITY:
        role, city_id, unit_id = Role.SUPERVISOR, key.city_id, None
    else:
        role, city_id, unit_id = ROLE_OF_UNIT.get(key.unit.kind), key.unit.city_id, key.unit_id
    return StaffProfile(
        role=role, city_id=city_id, unit_id=unit_id, display_name=key.account.get_username(), active=True
    )


def key_account(key: ApiKey):
    """The key's account, carrying the key's profile (see the module's docstring)."""
    account = key.account
    account.staff = key_profile(key)  # cached on the user object only; nothing is written
    return account


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer ob90_<prefix>_<secret>`. A malformed, unknown or revoked key answers 401."""

    keyword = "bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "认证头格式应为 Bearer <密钥> / expected `Authorization: Bearer <key>`"
            )
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("密钥无效 / invalid key") from None
        key = apikey_check(token)
        if key is None or not key.account.is_active:
            raise exceptions.AuthenticationFailed("密钥无效或已吊销 / invalid or revoked key")
        return key_account(key), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="onboard90"'


class StaffSessionAuthentication(SessionAuthentication):
    """A staff member signed in to the web: their own scope; writes need the CSRF token as forms do."""


def caller_scope(request) -> Scope:
    return scope_of(request.user)


def caller_key(request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


class PerKeyThrottle(SimpleRateThrottle):
    """At most ONBOARD90_API_RATE requests (default 600/min) per key, or per signed-in user; 429 past it,
    with Retry-After. Counted in the shared cache, so every server process counts together."""

    scope = "api"

    def get_rate(self):
        return settings.ONBOARD90["API_RATE"]

    def get_cache_key(self, request, view):
        key = caller_key(request)
        if key is not None:
            ident = f"key-{key.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"addr-{self.get_ident(request)}"
        return f"onboard90-api-throttle-{ident}"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """The key, as the schema and the docs page's "Authorize" button present it."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "ob90_<prefix>_<secret>",
            "description": "系统账号的接口密钥 / a system account's key (`onboard90 apikey create NAME --scope …`)",
        }


class StaffSessionScheme(OpenApiAuthenticationExtension):
    target_class = StaffSessionAuthentication
    name = "StaffSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "已登录网页的员工会话 / a staff member signed in to the web (writes need the CSRF token)",
        }
