"""The Jinja2 environment of the hot partials (``jobs/jinja2/``): rows and marks repeated dozens of times a page.

The pages are Django templates; the partials they repeat per job row,
failure group or timeline bar are Jinja2 templates, which compile to Python:
the Django template language's per-variable lookups made those partials most
of each page's time (bench/README.md has the measurement). The filters are
the ones the Django templates use (``jobs.templatetags.trainwatch``), so
both kinds of template say a thing the same way; autoescape is on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.humanize.templatetags.humanize import intcomma
from django.template import defaultfilters
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.timesince import timesince
from jinja2 import Environment

from jobs.templatetags import trainwatch


def date(value: datetime | None, fmt: str) -> str:
    """Django's ``|date`` with a format string, in the current time zone as the Django templates show it."""
    if value is None:
        return ""
    return dateformat.format(timezone.localtime(value) if timezone.is_aware(value) else value, fmt)


def url(name: str, *args: Any) -> str:
    return reverse(name, args=args)


def environment(**options: Any) -> Environment:
    env = Environment(**options)
    env.globals["url"] = url
    env.filters.update(
        date=date,
        intcomma=intcomma,
        pluralize=defaultfilters.pluralize,
        timesince=timesince,
        floatformat=defaultfilters.floatformat,
        urlencode=defaultfilters.urlencode,
        status_class=trainwatch.status_class,
        status_label=trainwatch.status_label,
        phase_class=trainwatch.phase_class,
        duration=trainwatch.duration,
        hms=trainwatch.hms,
        ago=trainwatch.ago,
        usd=trainwatch.usd,
        basis_label=trainwatch.basis_label,
        basis_explanation=trainwatch.basis_explanation,
    )
    return env
