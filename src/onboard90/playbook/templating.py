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


def segments(text: str) -> int:
    """SMS parts: 70 UCS-2 characters fit one; longer texts are concatenated 67 per part."""
    if len(text) <= 70:
        return 1
    return -(-len(text) // 67)
