"""The request's language for texts that come from data rather than the catalog.

The playbook and the city table carry their own English (`name_en`, `title_en`, …): a page shows it when
the active language is English and the Chinese otherwise — or when no English was written.
"""

from __future__ import annotations

import functools

from django.utils import translation
from django.utils.translation import get_language


def is_english() -> bool:
    return (get_language() or "").startswith("en")


def pick(zh: str, en: str | None) -> str:
    """`en` on an English page when there is one, `zh` otherwise."""
    return en if en and is_english() else zh


MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_month(day) -> str:
    """`12月05日`, or `05 Dec` on an English page (month names fixed, whatever the machine's locale)."""
    if is_english():
        return f"{day.day:02d} {MONTHS_EN[day.month - 1]}"
    return f"{day.month:02d}月{day.day:02d}日"


@functools.lru_cache(maxsize=256)
def chinese_label(choices, value: str) -> str:
    """A choice's label as the customer reads it: an SMS or a booklet is Chinese whatever language the page
    that previews it, or the process that renders it, is in. Looked up once per value (get_FOO_display()
    rebuilds the choices dict and translates on every call)."""
    try:
        with translation.override("zh-hans"):
            return str(choices(value).label)
    except ValueError:
        return value

