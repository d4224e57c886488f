"""Reads of the booklet's hand-overs."""

from __future__ import annotations

from onboard90.guide.models import BookletHandover


def last_handover(*, customer) -> BookletHandover | None:
    """The customer's latest recorded hand-over of the booklet, or None."""
    return (
        BookletHandover.objects.filter(customer=customer).select_related("handed_over_by__staff")
        .order_by("-handed_at", "-pk").first()
    )
