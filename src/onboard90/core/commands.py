"""Shared plumbing for the CLI's management commands: JSON output and clean user-facing errors."""

from __future__ import annotations

import datetime as dt
import decimal
import importlib.util
import json
import sys
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError

from onboard90.core.origin import Origin, acting_from

if TYPE_CHECKING:
    from rich.console import Console


def _default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, default=_default)


def console_for(stream: Any) -> Console:
    """A rich console on a command's stdout; wide when piped so tables are not folded."""
    # rich (~0.1 s): every command imports this module, only those that print a table need it
    from rich.console import Console

    # Django's OutputWrapper appends a newline to writes that lack one; rich wants the raw stream.
    stream = getattr(stream, "_out", stream)
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(file=stream, width=None if is_tty else 200, highlight=False, soft_wrap=not is_tty)


def require_tools(*modules: str, command: str) -> None:
    """The demo needs the `tools` extra (Faker), which `pip install onboard90` leaves out:
    say so in one line rather than fail on an import deep inside."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise CommandError(
            f"`onboard90 {command}` 需要工具包 / needs the tools extra ({', '.join(missing)} missing): "
            "pip install 'onboard90[tools]' (make demo and make test install it)"
        )


class OnboardCommand(BaseCommand):
    """Base command: `ValueError`s from services become one-line errors on stderr with exit code 1."""

    requires_system_checks: list[str] = []

    def emit_json(self, document: Any) -> None:
        sys.stdout.write(to_json(document) + "\n")
        sys.stdout.flush()

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            with acting_from(Origin(channel="cli")):
                return super().execute(*args, **options)
        except (ValueError, LookupError) as exc:
            raise CommandError(str(exc).strip("'\"")) from exc
