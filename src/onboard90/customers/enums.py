"""Customer vocabularies."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Product(models.TextChoices):
    POSTPAID = "postpaid", _("后付费")
    PREPAID = "prepaid", _("预付费")


class FirstMonth(models.TextChoices):
    """入网当月资费: the three first-month options, in the words of the acceptance form (受理单) a customer signed."""

    FULL = "full", _("全月套餐")
    HALF = "half", _("套餐减半")
    OUTSIDE = "outside", _("套餐包外资费")


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", _("在网")
    CANCELLED = "cancelled", _("已离网")


class EventType(models.TextChoices):
    ACTIVATION = "activation", _("入网")
    CUSTOMER_UPDATED = "customer_updated", _("资料变更")
    VIP_RATED = "vip_rated", _("VIP评级")
    BILL_ISSUED = "bill_issued", _("出账")
    NUMBER_CHANGED = "number_changed", _("换号")
    CANCELLATION = "cancellation", _("离网")
    # 携号转网(转出): the customer left by taking the number to another operator; for the plan a departure
    # like a cancellation (the journey exits), kept apart in the record of facts.
    PORT_OUT = "port_out", _("携号转出")
    # The customer asked for no more marketing SMS: replied TD/退订 to a message, or told the BSS or the
    # 10010 hotline, which send it as an `opt_out` event (validation.EVENT_TYPES).
    MARKETING_OPT_OUT = "marketing_opt_out", _("退订营销短信")
