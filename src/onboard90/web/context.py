"""What every page's frame needs: the signed-in user's name, role, unit and which sections they may open."""

from __future__ import annotations

from onboard90.org.scoping import scope_of


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    scope = scope_of(user)
    profile = getattr(user, "staff", None) if hasattr(user, "staff") else None
    return {
        "scope": scope,
        "staff_profile": profile,
        "nav_supervising": scope.is_supervising,
        "nav_admin": scope.is_province and user.is_staff,
    }
