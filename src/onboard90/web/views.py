"""Thin views: parse, call a selector, render."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from onboard90.journeys import selectors


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html", {"figures": selectors.today_figures()})
