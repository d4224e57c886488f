"""The playbook's SMS templates: operator-written Jinja2 text, rendered in a sandbox (no attribute games, no I/O).

Part of the playbook (its language): the checks before publishing compile and render them, the dispatcher renders
each message with them."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import ImmutableSandboxedEnvironment

_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)


def money(value: Any) -> str:
    """12.50 -> '12.5', 66.00 -> '66' (how prices read in an SMS)."""
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return text or "0"


def data_size(megabytes: Any) -> str:
    """300 -> '300MB', 1000 -> '1GB': the catalogue counts 1 GB as 1000 MB, as the era's leaflets did."""
    value = int(megabytes or 0)
    return f"{value // 1000}GB" if value >= 1000 and value % 1000 == 0 else f"{value}MB"


_env.filters["money"] = money
_env.filters["data"] = data_size


@lru_cache(maxsize=512)
def compile_template(source: str) -> Template:
    """Parse once; raises jinja2.TemplateSyntaxError for a broken template."""
    return _env.from_string(source)


def render(source: str, context: dict[str, Any]) -> str:
    return compile_template(source).render(**context).strip()


# The GSM 03.38 default alphabet and its extension table (two septets each): text made of these alone can go
# 7-bit; anything else (Chinese, a backtick) needs UCS-2, or Kannel replaces it with "?".
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

CODING_GSM7, CODING_UCS2 = 0, 2


def sms_coding(text: str) -> int:
    """The SMS coding a text needs (Kannel's sendsms `coding`): 0, GSM 7-bit, when all its characters are GSM
    ones; else 2, UCS-2."""
    return CODING_GSM7 if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text) else CODING_UCS2


def segments(text: str) -> int:
    """How many SMS parts `text` goes as (the gateway splits it so, and each part is paid for): 160 septets
    (an extension character takes two) or 70 UCS-2 units fit one part, 153 or 67 each part of a concatenated
    message."""
    if sms_coding(text) == CODING_GSM7:
        units, single, concatenated = sum(2 if c in GSM7_EXTENDED else 1 for c in text), 160, 153
    else:
        units, single, concatenated = len(text.encode("utf-16-be")) // 2, 70, 67
    return 1 if units <= single else -(-units // concatenated)
