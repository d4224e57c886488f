"""The province the browser tests walk through: 济南 and 青岛, the seven demo accounts, a handful of customers
at every point of the first ten days, and the daily cycles that opened their work — built with the suite's
builders, not fixture files.

The history is simulated (`core.clock.simulated`) from TODAY-8 to TODAY, and the clock is left standing at
NOW (10:30 on TODAY) for the test: the live server's views read `clock.now()`, so "today", "overdue" and
"coming up" mean the same to the pages as to the data. A fixed date, not the real one, keeps the lists,
the figures and the screenshots the same from run to run and at any hour of the day.

Who has what on TODAY (10:30):

| customer | city | activated | what is open |
|---|---|---|---|
| 王建国 18653100001 | 济南 | TODAY-8 | first callback (10010, due TODAY+2) — the agent's |
| 李秀英 18653100002 | 济南 | TODAY-8, gold VIP TODAY-2 | tier benefits + VIP callback — `manager`'s |
| 赵敏 18653100006 | 济南 | TODAY-8, gold VIP TODAY-2 | the same, for the other account manager |
| 张伟 18653100003 | 济南 | TODAY-4 | the store's four acts, overdue since TODAY-1 (escalated) |
| 刘洋 18653100004 | 济南 | TODAY-3, changed number | the store's five acts, due today — the clerk's |
| 陈静 18653100005 | 济南 | TODAY-2 | the store's four acts, due TODAY+1 |
| 孙丽 18653200011 | 青岛 | TODAY-3 | the 青岛 store's four acts, due today — `clerk_qd`'s |
| 周强 18653200012 | 青岛 | TODAY-8 | first callback (青岛 10010) |

`club` has no work on its own desk: the 济南 stores' open hands-on coaching (刘洋's, 陈静's, and 张伟's overdue one:
a walk-in customer is served whatever the clock says, and the late figure stays late) is what it may take (领取).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from onboard90 import testing as builders
from onboard90.core import clock

TODAY = dt.date(2012, 3, 12)
FIRST_DAY = TODAY - dt.timedelta(days=8)
NOW = clock.at_local(TODAY, 10, 30)
PASSWORD = "onboard90-demo"


# The days the daily cycle runs: those on which something opens or falls due. On the others (TODAY-8,
# TODAY-6, TODAY-5) the cycle would find nothing to do; leaving them out makes each test's build a second
# shorter, and the next cycle catches up on whatever a skipped day held, as it does in production.
CYCLE_DAYS = (-7, -4, -3, -2, -1, 0)


def day(offset: int) -> dt.date:
    """TODAY + offset days (offset ≤ 0 for the past)."""
    return TODAY + dt.timedelta(days=offset)


# (username, role, city, unit code or None, display name, work phone): the demo's seven accounts, and a
# second 济南 account manager so that "only their own VIP customers" has someone else's VIP to leave out.
STAFF = [
    ("admin", "province_admin", None, None, "省公司管理员", ""),
    ("supervisor", "supervisor", "jinan", None, "济南主管", ""),
    ("clerk", "store_clerk", "jinan", "jinan-store-1", "王芳", ""),
    ("club", "club_staff", "jinan", "jinan-club", "李娜", ""),
    ("agent", "call_centre_agent", "jinan", "jinan-cc", "张敏", ""),
    ("manager", "account_manager", "jinan", "jinan-am", "刘强", "18653188001"),
    ("manager2", "account_manager", "jinan", "jinan-am", "陈刚", "18653188002"),
    ("clerk_qd", "store_clerk", "qingdao", "qingdao-store-1", "孙燕", ""),
]


@dataclasses.dataclass(frozen=True)
class CustomerSpec:
    msisdn: str
    name: str
    city: str
    activated: int  # days relative to TODAY
    number_changed: bool = False
    vip_rated: int | None = None  # days relative to TODAY; rated gold at 08:00 that day
    manager: str | None = None  # the account manager the VIP is given (by name, at the rating)
    store_done: bool = False  # the store did the activation-day acts the day after activation


CUSTOMERS = [
    CustomerSpec("18653100001", "王建国", "jinan", -8, store_done=True),
    CustomerSpec("18653100002", "李秀英", "jinan", -8, vip_rated=-2, manager="manager", store_done=True),
    CustomerSpec("18653100006", "赵敏", "jinan", -8, vip_rated=-2, manager="manager2", store_done=True),
    CustomerSpec("18653100003", "张伟", "jinan", -4),
    CustomerSpec("18653100004", "刘洋", "jinan", -3, number_changed=True),
    CustomerSpec("18653100005", "陈静", "jinan", -2),
    CustomerSpec("18653200011", "孙丽", "qingdao", -3),
    CustomerSpec("18653200012", "周强", "qingdao", -8, store_done=True),
]

# The numbers the tests speak of, by what they are in the story.
CALLBACK = "18653100001"  # 王建国: the agent's first callback
VIP_OWN = "18653100002"  # 李秀英: `manager`'s VIP
VIP_OTHER = "18653100006"  # 赵敏: the other account manager's VIP
OVERDUE = "18653100003"  # 张伟: the store's overdue acts
DUE_TODAY = "18653100004"  # 刘洋: changed number, the store's acts due today
COMING_UP = "18653100005"  # 陈静
QINGDAO_DUE_TODAY = "18653200011"  # 孙丽


def build(sim: clock.SimulatedClock) -> dict:
    """Build the province day by day from FIRST_DAY to TODAY under the simulated clock `sim` (each record
    stamped when it would have been written), then leave the clock at NOW. Returns {username: user}."""
    from onboard90.customers import services as customer_services
    from onboard90.journeys import cycle, vip_assignment
    from onboard90.journeys import services as journeys
    from onboard90.journeys.models import Task
    from onboard90.messaging.gateways import MemoryGateway
    from onboard90.org.services import staff_add

    sim.at = clock.at_local(FIRST_DAY, 8)
    cities = {code: builders.city(code) for code in ("jinan", "qingdao")}
    builders.package("A66")
    builders.vip_tier("gold")
    builders.playbook_version()
    users = {}
    for username, role, city, unit, display_name, phone in STAFF:
        users[username] = staff_add(
            username=username, role=role, city=city, unit=unit, password=PASSWORD, display_name=display_name,
            phone=phone,
        )  # fmt: skip

    gateway = MemoryGateway()
    customers = {}
    for offset in range(FIRST_DAY.toordinal() - TODAY.toordinal(), 1):
        for spec in CUSTOMERS:
            if spec.vip_rated == offset:  # rated before the cycle, so the cycle sees it the same day
                customer = customers[spec.msisdn]
                sim.at = clock.at_local(day(offset), 8)
                customer_services.customer_rate_vip(customer=customer, tier=builders.vip_tier("gold"), rated_at=sim.at)
                vip_assignment.account_manager_assign(customer=customer, manager_id=users[spec.manager].pk, at=sim.at)
        if offset in CYCLE_DAYS:
            sim.at = clock.cycle_instant(day(offset))
            cycle.cycle_run(as_of=sim.at, gateway=gateway)
        sim.at = clock.at_local(day(offset), 10)
        for spec in CUSTOMERS:
            if spec.activated == offset:
                customers[spec.msisdn] = builders.customer(
                    city_obj=cities[spec.city], activated_on=day(offset), msisdn=spec.msisdn, name=spec.name,
                    number_changed=spec.number_changed,
                    previous_msisdn=f"130{spec.msisdn[3:]}" if spec.number_changed else "",
                )
        # The store's work of yesterday's activations, done in the afternoon (as the clerk of that city).
        sim.at = clock.at_local(day(offset), 15)
        for spec in CUSTOMERS:
            if spec.store_done and spec.activated == offset - 1:
                clerk = users["clerk" if spec.city == "jinan" else "clerk_qd"]
                for task in Task.objects.filter(journey__customer__msisdn=spec.msisdn, owner_unit__kind="store"):
                    journeys.task_complete(task=task, outcome="reached", completed_by=clerk, at=sim.at, now=sim.at)
    sim.at = NOW
    return users
