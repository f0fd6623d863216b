"""The orders a list of companies comes in, one vocabulary for the dashboard, the API and exports
(`ordering`), each reading its page off an index (migration 0029; docs/benchmarks.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import F
from django.db.models.functions import Upper

from leads.models import CompanyQuerySet, CountryName


@dataclass(frozen=True)
class Sort:
    label: str  # what the page says it lists first
    # The companies in this order, as querysets listed one after the other (see Sorted); None: a
    # walk of the score index (BestFirst).
    parts: Callable[[CompanyQuerySet], list[CompanyQuerySet]] | None = None


def by_name(companies: CompanyQuerySet, *, descending: bool = False) -> CompanyQuerySet:
    """By name, case aside, off the (upper(name), id) index; empty names (none: a name is
    required) would come first."""
    companies = companies.annotate(name_key=Upper("name"))
    return companies.order_by(F("name_key").desc(), "-pk") if descending else companies.order_by("name_key", "pk")


def _text(field: str, descending: bool = False, shown=None):
    """A text column in order, case aside, off its (upper(field), id) index (Meta), or of the
    expression it is `shown` as (a country by its name); companies with none ("") after, by id,
    whichever way. Descending is the index read backwards: ties by id, the highest first."""
    key = f"{field}_key"

    def parts(companies: CompanyQuerySet) -> list[CompanyQuerySet]:
        valued = companies.annotate(**{key: Upper(shown or field)}).filter(**{f"{key}__gt": ""})
        order = (F(key).desc(), "-pk") if descending else (key, "pk")
        return [valued.order_by(*order), companies.filter(**{field: ""}).order_by("pk")]

    return parts


def _number(field: str, descending: bool = False):
    """A number column in order, off its partial (field, id) index (Meta); companies without one
    after, by id, whichever way."""

    def parts(companies: CompanyQuerySet) -> list[CompanyQuerySet]:
        order = (F(field).desc(), "-pk") if descending else (field, "pk")
        valued = companies.filter(**{f"{field}__isnull": False}).order_by(*order)
        return [valued, companies.filter(**{f"{field}__isnull": True}).order_by("pk")]

    return parts


def _latest_verdict(companies: CompanyQuerySet) -> list[CompanyQuerySet]:
    """The labelled companies by their latest verdict (the few a team labels, each one index
    probe), then the others by name."""
    labelled = companies.filter(current__isnull=False)
    return [labelled.order_by("-current__given_at", "pk"), by_name(companies.filter(current__isnull=True))]


def _one(*order):
    return lambda companies: [companies.order_by(*order)]


# The orders of the dashboard, the API and exports, by their `ordering` parameter ("-": descending,
# the API's vocabulary). Each follows an index, so that its first page is as fast at a million
# companies as best fit first (docs/benchmarks.md); "-score" alone sorts the selection (an index on
# the plain score would cost every score written), so the dashboard does not offer it.
ORDERINGS = {
    "-fit": Sort("best fit first"),
    "fit": Sort("worst fit first"),
    "-score": Sort("best score first", _one(F("score__value").desc(nulls_last=True), "pk")),
    "name": Sort("by name, A to Z", lambda companies: [by_name(companies)]),
    "-name": Sort("by name, Z to A", lambda companies: [by_name(companies, descending=True)]),
    "industry": Sort("by industry, A to Z", _text("industry")),
    "-industry": Sort("by industry, Z to A", _text("industry", descending=True)),
    "country": Sort("by country, A to Z", _text("country", shown=CountryName("country"))),
    "-country": Sort("by country, Z to A", _text("country", descending=True, shown=CountryName("country"))),
    "employees": Sort("fewest employees first", _number("employees")),
    "-employees": Sort("most employees first", _number("employees", descending=True)),
    "founded": Sort("founded longest ago first", _number("founded")),
    "-founded": Sort("founded most recently first", _number("founded", descending=True)),
    "revenue": Sort("smallest revenue first", _number("revenue")),
    "-revenue": Sort("largest revenue first", _number("revenue", descending=True)),
    "-verdict": Sort("latest verdict first", _latest_verdict),
    "created": Sort("oldest first", _one("created_at", "pk")),
    "-created": Sort("newest first", _one(F("created_at").desc(), "-pk")),
}
DEFAULT_ORDERING = "-fit"
# The orders the dashboard's Order box offers: every one but the plain score (the API's, for integrations).
OFFERED_ORDERINGS = {key: sort for key, sort in ORDERINGS.items() if key != "-score"}
