"""Organisation vocabularies: unit kinds and staff roles."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class UnitKind(models.TextChoices):
    STORE = "store", _("营业厅")
    CLUB = "club", _("客户俱乐部")
    ACCOUNT_MANAGER_TEAM = "account_manager_team", _("客户经理团队")
    CALL_CENTRE = "call_centre", _("客服中心(10010)")


class Role(models.TextChoices):
    STORE_CLERK = "store_clerk", _("营业员")
    CLUB_STAFF = "club_staff", _("俱乐部人员")
    CALL_CENTRE_AGENT = "call_centre_agent", _("客服代表")
    ACCOUNT_MANAGER = "account_manager", _("客户经理")
    SUPERVISOR = "supervisor", _("地市分公司主管")
    PROVINCE_ADMIN = "province_admin", _("省公司管理员")


# The unit kind a role works in; supervisors and province admins belong to no single unit.
ROLE_UNIT_KIND = {
    Role.STORE_CLERK: UnitKind.STORE,
    Role.CLUB_STAFF: UnitKind.CLUB,
    Role.CALL_CENTRE_AGENT: UnitKind.CALL_CENTRE,
    Role.ACCOUNT_MANAGER: UnitKind.ACCOUNT_MANAGER_TEAM,
}
