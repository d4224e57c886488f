"""Helpers for the crash-safety test (test_crash_safety.py): input files, a database probe, a state dump.

Not a test module. `python -m onboard90.journeys.tests.crashkit dump OUT.json` (with DATABASE_URL set)
writes the engine's state keyed by natural keys — a customer's msisdn, an act's (msisdn, code,
occurrence), a unit's code, a user's name — so two databases built by different runs compare row for
row although their surrogate ids differ. Wall-clock columns (CycleRun.started_at/finished_at,
Journey.created_at) are left out; every business column the cycle writes is in.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
import sqlite3
import sys
from pathlib import Path

CITIES = ["济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁", "泰安", "威海", "日照", "莱芜", "临沂", "德州",
          "聊城", "滨州", "菏泽"]  # fmt: skip
POSTPAID = ["A46", "A66", "A96", "A126", "A186", "B66", "B96", "C96", "D150"]
VIP_LEVELS = ["gold", "silver", "diamond"]

# Staff for the cycle's assignment and escalation rules: account managers in a few cities only (so both
# automatic VIP assignment and the manual-assignment task happen), supervisors in some cities only (so
# escalations both with and without a supervisor happen).
# (username, role, city, display name, work phone): an account manager needs the last two.
STAFF = [
    ("am_jn_1", "account_manager", "济南", "王磊", "18653110001"),
    ("am_jn_2", "account_manager", "济南", "李娜", "18653110002"),
    ("am_qd_1", "account_manager", "青岛", "张伟", "18553210001"),
    ("sup_jn", "supervisor", "济南", "", ""),
    ("sup_qd", "supervisor", "青岛", "", ""),
]


def write_customers(path: Path, *, day: dt.date, count: int, seed: int, first_serial: int) -> list[str]:
    """A customers CSV of `count` activations on `day` (mixed cities, products, VIPs, opt-outs).

    Returns the msisdns of the postpaid customers not yet VIP (those a later VIP rating may be given to).
    """
    rnd = random.Random(seed)
    msisdns = []
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["msisdn", "city", "activated_at", "product", "package_code", "name", "vip_level",
                      "handset_os", "previous_msisdn", "marketing_opt_out"])  # fmt: skip
        for i in range(count):
            serial = first_serial + i
            msisdn = f"186{serial:08d}"
            prepaid = rnd.random() < 0.15
            vip = "" if prepaid or rnd.random() > 0.12 else rnd.choice(VIP_LEVELS)
            out.writerow([
                msisdn, rnd.choice(CITIES), f"{day.isoformat()} {7 + i % 13:02d}:{i % 60:02d}",
                "prepaid" if prepaid else "postpaid",
                rnd.choice(["P20", "P36"]) if prepaid else rnd.choice(POSTPAID),
                f"客户{serial}", vip, rnd.choice(["android", "ios", "", "symbian"]),
                f"185{serial:08d}" if rnd.random() < 0.06 else "",
                "是" if rnd.random() < 0.1 else "",
            ])  # fmt: skip
            if not prepaid and not vip:
                msisdns.append(msisdn)
    return msisdns


def write_vip_ratings(path: Path, msisdns: list[str], *, at: dt.datetime) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["msisdn", "vip_level", "rated_at"])
        for i, msisdn in enumerate(msisdns):
            out.writerow([msisdn, VIP_LEVELS[i % len(VIP_LEVELS)], at.strftime("%Y-%m-%d %H:%M")])


# --- reading a database that another process is writing -----------------------------------------------


class Probe:
    """Counts in a database a cycle process is writing (SQLite file in WAL mode, or PostgreSQL)."""

    def __init__(self, database_url: str):
        if database_url.startswith("sqlite:"):
            path = database_url.split("sqlite://", 1)[1]
            self.conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.vendor = "sqlite"
        else:
            import psycopg

            self.conn = psycopg.connect(database_url, autocommit=True)
            self.vendor = "postgresql"

    def scalar(self, sql: str, params: tuple = ()) -> int:
        if self.vendor == "postgresql":
            sql = sql.replace("?", "%s")
        cursor = self.conn.execute(sql, params)
        return cursor.fetchone()[0]

    def counts(self) -> dict[str, int]:
        return {
            "running": self.scalar("SELECT count(*) FROM journeys_cyclerun WHERE status = 'running'"),
            "finished": self.scalar("SELECT count(*) FROM journeys_cyclerun WHERE status = 'finished'"),
            "actions": self.scalar("SELECT count(*) FROM journeys_journeyaction"),
            "tasks": self.scalar("SELECT count(*) FROM journeys_task"),
            "overdue": self.scalar("SELECT count(*) FROM journeys_task WHERE status = 'overdue'"),
            "escalations": self.scalar("SELECT count(*) FROM journeys_escalation"),
            "messages": self.scalar("SELECT count(*) FROM messaging_outboxmessage"),
            "rendered": self.scalar("SELECT count(*) FROM messaging_outboxmessage WHERE text <> ''"),
            "sent": self.scalar("SELECT count(*) FROM messaging_outboxmessage WHERE status = 'sent'"),
        }

    def sent_ids(self) -> set[int]:
        cursor = self.conn.execute("SELECT id FROM messaging_outboxmessage WHERE status = 'sent'")
        return {row[0] for row in cursor.fetchall()}

    def close(self) -> None:
        self.conn.close()


def gateway_lines(path: Path) -> list[dict]:
    """The SMS file gateway's lines (one JSON object per message sent)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- the state dump -----------------------------------------------------------------------------------


def _iso(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _rows(model, key: tuple[str, ...], columns: tuple[str, ...]) -> dict[str, dict]:
    """{json(natural key): {column: value}} — a key seen twice is an error, not a silent overwrite."""
    rows: dict[str, dict] = {}
    for values in model.objects.values_list(*key, *columns):
        values = [_iso(v) for v in values]
        natural = json.dumps(values[: len(key)], ensure_ascii=False)
        if natural in rows:
            raise AssertionError(f"natural key {natural} occurs twice in {model.__name__}")
        rows[natural] = dict(zip(columns, values[len(key) :], strict=True))
    return rows


ACT = ("journey__customer__msisdn", "action_code", "occurrence")
TASK_ACT = tuple(f"action__{f}" for f in ACT)


def dump() -> dict:
    """The state the cycle writes, by natural key (run inside a configured Django process)."""
    from onboard90.customers.models import Customer
    from onboard90.journeys.models import CycleRun, Escalation, Journey, JourneyAction, Task
    from onboard90.messaging.models import OutboxMessage

    state = {
        "journeys": _rows(
            Journey, ("customer__msisdn",), ("playbook_version__number", "status", "started_at", "closed_at")
        ),
        "customers": _rows(
            Customer, ("msisdn",),
            ("account_manager__username", "manager_assigned_at", "manager_assigned_on", "vip_tier__code",
             "vip_rated_on"),
        ),
        "actions": _rows(
            JourneyAction, ACT,
            ("stage", "status", "window_start", "window_end", "due_at", "opened_at", "closed_at", "reason"),
        ),
        "tasks": _rows(
            Task, TASK_ACT,
            ("journey__customer__msisdn", "kind", "owner_unit__code", "assignee__username", "status", "due_at",
             "created_at", "attempts", "max_attempts", "outcome", "note", "checklist", "completed_at",
             "completed_by__username"),
        ),
        "escalations": _rows(
            Escalation, tuple(f"task__{f}" for f in TASK_ACT), ("at", "unit__code", "supervisor__username", "reason")
        ),
        "outbox": _rows(
            OutboxMessage, TASK_ACT,
            ("pk", "customer__msisdn", "msisdn", "message_class", "text", "segments", "status", "scheduled_at",
             "not_after", "sent_at", "gateway", "gateway_ref", "attempts", "last_error", "created_at"),
        ),
        "cycle_runs": sorted([_iso(at), status] for at, status in CycleRun.objects.values_list("as_of", "status")),
    }
    # The outbox id is a surrogate: kept aside (to read the gateway file by), and gateway_ref, which is
    # "<gateway>:<outbox id>", checked here and replaced by its shape.
    ids = {}
    for natural, row in state["outbox"].items():
        pk = row.pop("pk")
        ids[str(pk)] = natural
        ref = row["gateway_ref"]
        if ref:
            row["gateway_ref"] = "<gateway>:<id>" if ref == f"{row['gateway']}:{pk}" else f"unexpected:{ref}"
    state["outbox_ids"] = ids
    return state


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] != "dump":
        print("usage: python -m onboard90.journeys.tests.crashkit dump OUT.json", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onboard90.settings")
    import django

    django.setup()
    Path(argv[2]).write_text(json.dumps(dump(), ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
