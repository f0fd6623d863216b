"""What the dashboard's industry and country filters can be: the commonest values to offer as one
types, and what a value that matches nothing may have meant."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Count

from leads.companies.countries import country_name
from leads.models import Company

FILTER_FIELDS = ("industry", "country")
FILTER_VALUES = 300  # the commonest values offered as one types
FILTER_VALUES_SECONDS = 600  # read again at most this often (a GROUP BY over every company)


def filter_values(field: str) -> list[str]:
    """The commonest values of `field` ("industry" or "country") as the companies hold them,
    most companies first, a country by its name ("Germany" for "DE": the filter takes either):
    what the dashboard's filter box offers as one types."""
    if field not in FILTER_FIELDS:
        raise ValueError(f"no filter on {field!r}")

    def read() -> list[str]:
        counted = (
            Company.objects.exclude(**{field: ""})
            .values(field)
            .annotate(companies=Count("pk"))
            .order_by("-companies", field)[:FILTER_VALUES]
        )
        shown = country_name if field == "country" else str
        return [shown(row[field]) for row in counted]

    return cache.get_or_set(f"leads:filter-values:{field}", read, FILTER_VALUES_SECONDS)


def close_values(values: list[str], typed: str, limit: int = 5) -> list[str]:
    """Which of `values` (filter_values of a field) a typed filter value that matches nothing may
    have meant: those that start with it, then those that hold it, case aside ("Food" -> "Food
    Production")."""
    typed = typed.strip().casefold()
    if not typed:
        return []
    starting = [value for value in values if value.casefold().startswith(typed)]
    holding = [value for value in values if typed in value.casefold() and value not in starting]
    return (starting + holding)[:limit]
