"""What an SMS template may say about a customer: the context the playbook's templates are written against."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from onboard90.catalog.models import ReferenceItem, ReferenceKind
from onboard90.catalog.selectors import package_context
from onboard90.core.language import chinese_label
from onboard90.customers.enums import FirstMonth
from onboard90.customers.models import Bill, Customer
from onboard90.playbook import templating
from onboard90.playbook.content import locals_for, sms_template_for, sms_text


def reference_lists() -> dict[str, list[dict[str, Any]]]:
    """The channels, payment methods and data-surge causes (editable reference data), loaded once per batch."""
    items = ReferenceItem.objects.order_by("rank")
    lists: dict[str, list[dict[str, Any]]] = {"channels": [], "payment_methods": [], "data_surge_causes": []}
    key = {
        ReferenceKind.CHANNEL: "channels",
        ReferenceKind.PAYMENT_METHOD: "payment_methods",
        ReferenceKind.DATA_SURGE: "data_surge_causes",
    }
    for item in items:
        lists[key[item.kind]].append({"rank": item.rank, "name": item.name, "identifier": item.identifier})
    return lists


# The customer columns customer_context reads (with the relations `_References` attaches by id): a render
# loads only these. A field read here and missing there costs a query per message, not an error.
CUSTOMER_FIELDS = (
    "name", "msisdn", "first_month", "city_id", "store_id", "package_id", "vip_tier_id", "account_manager_id",
)


class SharedParts:
    """The parts of SMS contexts that many customers share — a package's, a tier's, a manager's, a city's
    `local` values, the template an act has for a city and a package family — made once and handed to every
    context that needs them. The renderer keeps one for a whole dispatch (20,000 messages name a few dozen
    packages and cities); the templates are rendered in an immutable sandbox, so no context can change a
    shared part for the next one."""

    def __init__(self) -> None:
        self._made: dict[tuple, Any] = {}

    def get(self, key: tuple, make) -> Any:
        try:
            return self._made[key]
        except KeyError:
            value = self._made[key] = make()
            return value


def customer_context(
    customer: Customer, *, bill: Bill | None, local: dict[str, str], refs: dict, shared: SharedParts | None = None
) -> dict[str, Any]:
    """What a template may say about `customer` (any object with the customer's fields and relations)."""
    shared = shared or SharedParts()
    return {
        "customer": {
            "name": customer.name,
            "msisdn_masked": customer.masked_msisdn,
            "city": customer.city.name,
            "store": customer.store.name,
        },
        "package": shared.get(("package", customer.package_id), lambda: package_context(customer.package)),
        "first_month": _first_month_label(customer.first_month),
        "first_month_code": customer.first_month,
        "vip": shared.get(("vip", customer.vip_tier_id), lambda: vip_context(customer.vip_tier)),
        "manager": shared.get(
            ("manager", customer.account_manager_id), lambda: manager_context(customer.account_manager)
        ),
        "bill": {"month": bill.bill_month, "amount": bill.amount} if bill else None,
        "local": local,
        **refs,
    }


def vip_context(tier) -> dict[str, Any] | None:
    """The customer's tier with its own benefits from the catalogue, one item per `；`-separated entry."""
    if tier is None:
        return None
    benefits = [item.strip() for item in tier.benefits.replace(";", "；").split("；") if item.strip()]
    return {"tier": tier.name, "code": tier.code, "benefits": benefits}


def manager_context(manager) -> dict[str, str] | None:
    """The account manager as the customer should know them: their name and work phone from the staff
    record, never their login (an account manager's record must carry both, see org.services)."""
    if manager is None:
        return None
    profile = getattr(manager, "staff", None)
    return {
        "name": (profile.display_name if profile else "") or "",
        "phone": (getattr(profile, "phone", "") if profile else "") or "",
    }


def _first_month_label(value: str) -> str:
    return chinese_label(FirstMonth, value)


def latest_bills(customer_ids: Iterable[int]) -> dict[int, Bill]:
    """Each of these customers' latest bill (what a template's `bill` says), in one query."""
    bills: dict[int, Bill] = {}
    for bill in Bill.objects.filter(customer_id__in=list(customer_ids)).order_by("-issued_at"):
        bills.setdefault(bill.customer_id, bill)
    return bills


def message_text(
    playbook,
    action,
    customer: Customer,
    *,
    bill: Bill | None,
    refs: dict,
    shared: SharedParts | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """The SMS `customer` gets for `action` under `playbook`, as sent: the city's or the package family's
    template, rendered with the customer's own facts, with the signature and (marketing) the opt-out text.
    The dispatcher's renderer, `onboard90 sms preview` and the usage acts' writers (with their `extra`
    context: `fit`, `offer`, `alert`) all call this. Raises on a template error.

    `shared` (one per playbook version: its keys do not name the playbook) keeps what customers share
    between calls."""
    shared = shared or SharedParts()
    city, family = customer.city.code, customer.package.family
    local = shared.get(("local", city), lambda: locals_for(playbook, city))
    context = customer_context(customer, bill=bill, local=local, refs=refs, shared=shared)
    if extra:
        context.update(extra)
    template = shared.get(
        ("template", action.code, city, family), lambda: sms_template_for(playbook, action, city, family)
    )
    return sms_text(playbook, templating.render(template or "", context), action.sms.message_class)

