"""Thin views: parse, call a selector, render."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from onboard90.journeys import selectors


def home(request: HttpRequest) -> HttpResponse:
    """今日概况: today's headline figures and compliance by city (aggregates only, no personal data)."""
    figures = selectors.today_figures()
    report = selectors.compliance_report(by="city", as_of=selectors.default_as_of())
    return render(request, "web/home.html", {"figures": figures, "report": report})
