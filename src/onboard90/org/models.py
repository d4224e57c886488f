"""The operator's organisation: city branches (地市分公司), their service units, and staff."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from onboard90.org.enums import Role, UnitKind


class City(models.Model):
    """地市分公司: a prefecture-level city branch of the province."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=32, unique=True)
    name_en = models.CharField(_("英文名"), max_length=64)
    area_code = models.CharField(_("区号"), max_length=8, unique=True)
    # Relative size (share of the province's new subscribers), used by the demo generator.
    weight = models.PositiveIntegerField(_("规模权重"), default=1)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("地市")
        verbose_name_plural = _("地市")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name


class Unit(models.Model):
    """A service unit of a city: a store (营业厅), the club, the account-manager team or the call centre."""

    code = models.SlugField(_("代码"), max_length=48, unique=True)
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="units", verbose_name=_("地市"))
    kind = models.CharField(_("类型"), max_length=32, choices=UnitKind.choices)
    name = models.CharField(_("名称"), max_length=64)
    is_main = models.BooleanField(_("主营业厅"), default=False)

    class Meta:
        verbose_name = _("服务单位")
        verbose_name_plural = _("服务单位")
        ordering = ["city__sort_order", "kind", "code"]
        indexes = [models.Index(fields=["city", "kind"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class StaffProfile(models.Model):
    """A staff member's place in the organisation (one per Django user)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff")
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices)
    city = models.ForeignKey(
        City, on_delete=models.PROTECT, null=True, blank=True, related_name="staff", verbose_name=_("地市")
    )
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="staff", verbose_name=_("单位")
    )
    display_name = models.CharField(_("姓名"), max_length=64, blank=True)
    # The VIP tier notice gives the customer their account manager's name and this number, so an account
    # manager must have one (see staff_contact_check); for other roles it is optional.
    phone = models.CharField(_("工作电话"), max_length=20, blank=True)
    active = models.BooleanField(_("在岗"), default=True)

    class Meta:
        verbose_name = _("员工")
        verbose_name_plural = _("员工")
        indexes = [models.Index(fields=["role", "city"])]

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.get_role_display()})"
