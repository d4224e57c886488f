"""The product catalogue (套餐) and the reference facts used in scripts and SMS templates."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class VoiceScope(models.TextChoices):
    """Where a package's minutes and `voice_rate` apply; blank: no voice at all (a data card)."""

    NATIONAL = "national", _("国内")
    LOCAL = "local", _("本地")


class Package(models.Model):
    """套餐: a tariff package with its allowances and out-of-package rates."""

    code = models.SlugField(_("代码"), max_length=16, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    family = models.CharField(_("系列"), max_length=16)  # A / B / C / prepaid / datacard
    product = models.CharField(_("付费方式"), max_length=16)  # postpaid / prepaid
    monthly_fee = models.DecimalField(_("月费(元)"), max_digits=8, decimal_places=2)
    voice_min = models.PositiveIntegerField(_("通话分钟"), default=0)
    data_mb = models.PositiveIntegerField(_("流量(MB)"), default=0)
    sms = models.PositiveIntegerField(_("短信(条)"), default=0)
    voice_rate = models.DecimalField(_("套外通话(元/分)"), max_digits=8, decimal_places=4)
    data_rate = models.DecimalField(_("套外流量(元/MB)"), max_digits=8, decimal_places=4)
    sms_rate = models.DecimalField(_("套外短信(元/条)"), max_digits=8, decimal_places=4)
    video_rate = models.DecimalField(_("视频通话(元/分)"), max_digits=8, decimal_places=4, default=0)
    # What a customer must be told in their own terms (the tariff SMS, the first bill): whether the minutes
    # are national or local (C plans), the rate of long-distance and roaming calls where it differs from
    # `voice_rate`, whether the fee is a minimum spend (the 20元 card), and where data stops for the month.
    voice_scope = models.CharField(
        _("通话范围"), max_length=16, choices=VoiceScope.choices, blank=True, default=VoiceScope.NATIONAL
    )
    long_distance_rate = models.DecimalField(
        _("长途及漫游(元/分)"), max_digits=8, decimal_places=4, null=True, blank=True
    )
    minimum_spend = models.BooleanField(_("月费为最低消费"), default=False)
    data_cap_mb = models.PositiveIntegerField(_("流量封顶停机(MB)"), null=True, blank=True)
    notes = models.CharField(_("说明"), max_length=200, blank=True)
    confidence = models.CharField(_("可信度"), max_length=32, blank=True)
    active = models.BooleanField(_("在售"), default=True)

    class Meta:
        verbose_name = _("套餐")
        verbose_name_plural = _("套餐")
        ordering = ["family", "monthly_fee", "code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class VipTier(models.Model):
    """客户等级: a VIP tier; rank 1 is the highest."""

    code = models.SlugField(_("代码"), max_length=16, unique=True)
    name = models.CharField(_("名称"), max_length=16, unique=True)
    rank = models.PositiveSmallIntegerField(_("级别"), unique=True)
    enabled = models.BooleanField(_("启用"), default=True)
    min_avg_bill = models.DecimalField(_("月均账单下限(元)"), max_digits=8, decimal_places=2, null=True, blank=True)
    benefits = models.TextField(_("权益"), blank=True)

    class Meta:
        verbose_name = _("VIP等级")
        verbose_name_plural = _("VIP等级")
        ordering = ["rank"]

    def __str__(self) -> str:
        return self.name


class ReferenceKind(models.TextChoices):
    CHANNEL = "channel", _("服务渠道")
    PAYMENT_METHOD = "payment_method", _("缴费方式")
    DATA_SURGE = "data_surge", _("流量突增情形")


class ReferenceItem(models.Model):
    """A fact the scripts and SMS templates quote: a service channel, a payment method, a data-surge cause."""

    kind = models.CharField(_("类别"), max_length=32, choices=ReferenceKind.choices)
    code = models.SlugField(_("代码"), max_length=32)
    rank = models.PositiveSmallIntegerField(_("序号"), default=0)
    name = models.CharField(_("名称"), max_length=64)
    name_en = models.CharField(_("英文名"), max_length=128, blank=True)
    identifier = models.CharField(_("号码/网址"), max_length=64, blank=True)
    detail = models.TextField(_("说明"), blank=True)

    class Meta:
        verbose_name = _("参考信息")
        verbose_name_plural = _("参考信息")
        ordering = ["kind", "rank"]
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="catalog_reference_kind_code")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"
