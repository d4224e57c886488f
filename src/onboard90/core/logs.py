"""结构化日志: the log as one JSON object a line (ONBOARD90_LOG_FORMAT=json), for a log collector.

Each line carries the time (ISO 8601 with the operator's offset), the level, the logger and the message as
`logging` formats it, then every field the call passed in `extra` — so a daily cycle's piece is a line a
collector can sum and chart without parsing its text::

    {"time": "2012-03-01T09:00:03.412+08:00", "level": "INFO", "logger": "onboard90.journeys",
     "message": "cycle 2012-03-01: piece v1.g0 opened=42 …", "event": "cycle_piece", "run_id": 7,
     "piece": "v1.g0", "stage": 0, "as_of": "2012-03-01", "seconds": 0.183, "counts": {"opened": 42, …}}

Plain Python (no Django): the settings name the formatter before Django is set up, and the web server's and
the workers' own loggers are given it too (`onboard90 serve`, `core.celery_app`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import zoneinfo
from typing import Any

# What every LogRecord has of its own (Python adds to it from version to version, hence read from one); the
# rest of a record's attributes came from `extra`. `message` and `asctime` are set by formatting.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _plain(value: Any) -> Any:
    """What json.dumps cannot write, as text: dates and times in ISO 8601, anything else by str()."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object a record, on one line (a newline inside a message is escaped by JSON itself).

    `time_zone` (an IANA name) gives the times their offset; the fields `time`, `level`, `logger` and
    `message` come first and an `extra` field of the same name does not replace them.
    """

    def __init__(self, *, time_zone: str = "UTC") -> None:
        super().__init__()
        self.zone = zoneinfo.ZoneInfo(time_zone)

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, self.zone).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_") and key not in document:
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        try:
            return json.dumps(document, ensure_ascii=False, default=_plain)
        except (TypeError, ValueError):  # a field JSON cannot hold (a dict with tuple keys, a circular list)
            return json.dumps({key: value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
                               for key, value in document.items()}, ensure_ascii=False)  # fmt: skip


def with_root_logger(config: dict, *, level: int | str) -> dict:
    """The project's LOGGING (`config`, not changed) with its handler on the root logger at `level` too, for a
    process whose libraries log through the root logger (Celery's worker and beat: `core.celery_app`).

    The project's own loggers then stop passing their records up, which would print each line twice.
    """
    handlers = sorted({name for logger in config.get("loggers", {}).values() for name in logger.get("handlers", [])})
    loggers = {name: {**logger, "propagate": False} for name, logger in config.get("loggers", {}).items()}
    return {**config, "loggers": loggers, "root": {"handlers": handlers, "level": level}}
