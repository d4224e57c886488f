"""结构化日志: with ONBOARD90_LOG_FORMAT=json every record is one JSON object on one line — time with its
offset, level, logger, message and the call's extra fields — and the Celery worker writes its own lines and
the project's in that format too, each once."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import logging
import logging.config

import pytest

from onboard90.core.logs import JsonFormatter, with_root_logger


def _emit(formatter: logging.Formatter, emit) -> list[str]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("onboard90.tests.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().splitlines()


def test_each_record_is_one_json_line_with_time_level_logger_message_and_the_extra_fields():
    lines = _emit(
        JsonFormatter(time_zone="Asia/Shanghai"),
        lambda log: log.info("cycle %s: piece %s opened=%d", "2012-03-01", "v1.g0", 42,
                             extra={"run_id": 7, "piece": "v1.g0", "counts": {"opened": 42}, "as_of": dt.date(2012, 3, 1)}),
    )  # fmt: skip

    assert len(lines) == 1
    document = json.loads(lines[0])
    assert list(document)[:4] == ["time", "level", "logger", "message"]
    assert document["level"] == "INFO" and document["logger"] == "onboard90.tests.logs"
    assert document["message"] == "cycle 2012-03-01: piece v1.g0 opened=42"
    assert document["run_id"] == 7 and document["piece"] == "v1.g0" and document["counts"] == {"opened": 42}
    assert document["as_of"] == "2012-03-01"
    stamp = dt.datetime.fromisoformat(document["time"])
    assert stamp.utcoffset() == dt.timedelta(hours=8)
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 60
    # Only what the call gave: none of the record's own attributes (args, pathname, thread…) leak in.
    assert set(document) == {"time", "level", "logger", "message", "run_id", "piece", "counts", "as_of"}


def test_a_message_with_newlines_and_an_exception_stays_one_parseable_line():
    def fail(log):
        try:
            raise ValueError("第一行\nsecond line")
        except ValueError:
            log.exception("导入失败 / import failed:\n%s", "row 3")

    lines = _emit(JsonFormatter(), fail)

    assert len(lines) == 1
    document = json.loads(lines[0])
    assert document["level"] == "ERROR" and document["message"] == "导入失败 / import failed:\nrow 3"
    assert "ValueError: 第一行" in document["exception"] and "Traceback" in document["exception"]
    assert "第一行" in lines[0]  # Chinese stays readable, not \\u-escaped


def test_a_field_json_cannot_hold_is_written_as_text_and_the_fixed_fields_are_not_replaced():
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    lines = _emit(JsonFormatter(), lambda log: log.warning("odd", extra={"thing": Opaque(), "keys": {(1, 2): 3},
                                                                         "level": "fake"}))  # fmt: skip

    document = json.loads(lines[0])
    assert document["level"] == "WARNING"
    assert document["keys"] == "{(1, 2): 3}" and document["thing"] == "<opaque>"


def test_the_worker_configuration_puts_the_handler_on_the_root_logger_once():
    config = {
        "version": 1, "disable_existing_loggers": False, "formatters": {"plain": {"format": "%(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "loggers": {"onboard90": {"handlers": ["stderr"], "level": "WARNING"}},
    }  # fmt: skip
    before = copy.deepcopy(config)

    worker = with_root_logger(config, level=logging.INFO)

    assert config == before  # the settings' own dict is not changed
    assert worker["root"] == {"handlers": ["stderr"], "level": logging.INFO}
    assert worker["loggers"]["onboard90"] == {"handlers": ["stderr"], "level": "WARNING", "propagate": False}


@pytest.fixture
def logging_restored():
    """The test process's logging as it was (pytest's handlers on the root logger included)."""
    from django.conf import settings

    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, copy.deepcopy(settings.LOGGING)
    yield
    logging.config.dictConfig(config)
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_celery_worker_writes_its_own_lines_and_the_projects_as_json_each_once(settings, capsys, logging_restored):
    from celery import signals

    from onboard90.core import celery_app

    settings.LOGGING = {
        **settings.LOGGING,
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "loggers": {"onboard90": {"handlers": ["stderr"], "level": "INFO"}},
    }
    # What Celery does when the worker starts: a receiver of `setup_logging` takes the configuration over.
    answered = signals.setup_logging.send(sender=None, loglevel=logging.INFO, logfile=None, format="", colorize=False)
    assert celery_app._logging_as_configured in [receiver for receiver, _result in answered]
    logging.getLogger("celery.worker.strategy").info("Task %s[%s] received", "onboard90.cycle_piece", "abc")
    logging.getLogger("onboard90.journeys").info("cycle %s: piece %s", "2012-03-01", "v1.g0", extra={"run_id": 3})
    logging.getLogger("celery.worker.strategy").debug("below the worker's --loglevel")

    lines = capsys.readouterr().err.splitlines()
    documents = [json.loads(line) for line in lines]
    assert [(d["logger"], d["message"]) for d in documents] == [
        ("celery.worker.strategy", "Task onboard90.cycle_piece[abc] received"),
        ("onboard90.journeys", "cycle 2012-03-01: piece v1.g0"),
    ]
    assert documents[1]["run_id"] == 3
