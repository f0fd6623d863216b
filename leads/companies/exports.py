"""CSV export of scores that Excel opens safely."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from leads.companies import distribution as fit_distribution
from leads.companies.selectors import BestFirst, Sorted
from leads.crm import selectors as crm_selectors
from leads.models import Company, Label
from leads.owners import selectors as owner_selectors
from leads.scoring import explanations
from leads.scoring.bands import Distribution

HEADER = [
    "id", "name", "website", "industry", "country", "label", "score", "fit", "evidence", "band", "neighbours",
    "description", "rank", "why", "labelled_by", "labelled_at", "owner", "notes", "latest_note", "latest_note_by",
    "latest_note_at", "domain", "country_name", "employees", "founded", "revenue", "crm_ids",
]  # fmt: skip
# website: the address as given; domain: its one form. country: the ISO code ('DE', or the value as
# given when it names no country we know); country_name: 'Germany'. employees, founded, revenue: the
# typed numbers (a range's lower bound; revenue in the file's currency). crm_ids: the company's CRM
# record ids, 'hubspot:9001; salesforce:0015g00000XyZab' (one column whatever CRMs a team uses:
# `export_scores --for CRM` writes one CRM's import file). The columns after
# country_name came later: added at the end, so that a sheet or script reading the columns by
# position keeps working.
# A cell starting with one of these is run as a formula by spreadsheets (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Prefix text that a spreadsheet would evaluate with an apostrophe; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def score_rows(companies: QuerySet | BestFirst | Sorted, *, profile_id: int) -> Iterator[list]:
    """One row per company, streamed from the database; `companies` are read in the profile
    (Company.objects.in_profile(profile_id))."""
    # Read once per export, not per batch: the profile's distribution of fits and the team's "close".
    distribution, reach = (
        fit_distribution.score_distribution(profile_id),
        explanations.close_reach(profile_id=profile_id),
    )
    for batch in in_batches(companies):
        yield from _rows(batch, profile_id, distribution, reach)


def in_batches(companies: QuerySet | BestFirst | Sorted, size: int = 1000) -> Iterator[list[Company]]:
    """The companies streamed from the database in lists of `size`: each list's related rows (names
    of neighbours, records, notes) are then read in a query or two, not one per company."""
    batch: list[Company] = []
    for company in companies.iterator(chunk_size=2 * size):
        batch.append(company)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _rows(
    batch: list[Company], profile_id: int, distribution: Distribution, reach: explanations.Reach
) -> Iterator[list]:
    """A batch's rows: its neighbours' names, the latest verdict's author and time (in the
    profile), the owners' names, the notes' count and newest and the CRM records, in six queries."""
    neighbour_ids = {n["company_id"] for c in batch if c.score for n in c.score.neighbours}
    neighbours = Company.objects.only("name").in_bulk(neighbour_ids)
    labelled = [c.pk for c in batch if c.verdict]
    latest = {
        company_id: (username or "", created_at)
        for company_id, username, created_at in Label.objects.filter(profile_id=profile_id, company_id__in=labelled)
        .order_by("company_id", "-created_at", "-pk")
        .distinct("company_id")
        .values_list("company_id", "user__username", "created_at")
    }
    # By id, not through the companies' select_related: a queryset from the admin may not load owners.
    owners = dict(
        get_user_model().objects.filter(pk__in={c.owner_id for c in batch if c.owner_id}).values_list("pk", "username")
    )
    notes = owner_selectors.note_summaries(c.pk for c in batch)
    records = crm_selectors.records_of(c.pk for c in batch)
    for company in batch:
        score = company.score
        views = explanations.neighbour_views(score, neighbours) if score else []
        labelled_by, labelled_at = latest.get(company.pk, ("", None))
        note = notes.get(company.pk)
        row = [
            company.pk,
            company.name,
            company.website,
            company.industry,
            company.country,
            company.verdict,
            "" if score is None else round(score.value, 6),
            "" if score is None else round(score.fit, 6),
            "" if score is None else round(score.evidence, 6),
            "" if score is None else fit_distribution.band_of(score, distribution).label,
            "; ".join(map(neighbour_text, views)),
            company.description,
            "" if score is None else distribution.rank_text(score.fit),
            explanations.explanation_sentence(company, views, reach) if score else "",
            labelled_by,
            "" if labelled_at is None else _when(labelled_at),
            owners.get(company.owner_id, ""),
            note.count if note else 0,
            note.latest if note else "",
            note.latest_by if note else "",
            _when(note.latest_at) if note else "",
            company.domain,
            company.country_name,
            *("" if value is None else value for value in (company.employees, company.founded, company.revenue)),
            crm_selectors.record_ids_text(records.get(company.pk, [])),
        ]
        yield [neutralise(value) for value in row]


def _when(moment) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds")


_VERDICT_WORD = {"like": "liked", "dislike": "disliked"}


def neighbour_text(view: explanations.NeighbourView) -> str:
    """'Acme (liked)': a neighbour as the exports write it ('?' for one deleted since scoring)."""
    return f"{view.company.name if view.company else '?'} ({_VERDICT_WORD[view.verdict]})"


class _Line:
    """A file-like that hands back what csv.writer writes, for streaming responses."""

    def write(self, text: str) -> str:
        return text


def stream_csv(header: list[str], rows: Iterable[list], *, excel_bom: bool = False) -> Iterator[str]:
    """A CSV file as chunks of text, one a row, for a streaming HTTP response."""
    writer = csv.writer(_Line())
    if excel_bom:
        yield "\ufeff"
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def stream_scores(companies: QuerySet, *, profile_id: int, excel_bom: bool = True) -> Iterator[str]:
    """The export as chunks of text, for a streaming HTTP response (`profile_id`: as score_rows)."""
    return stream_csv(HEADER, score_rows(companies, profile_id=profile_id), excel_bom=excel_bom)


def write_scores(stream, companies: QuerySet, *, profile_id: int, excel_bom: bool = True) -> int:
    """Write the export to a text stream (`profile_id`: as score_rows); returns the number of
    companies written."""
    if excel_bom:
        stream.write("\ufeff")
    writer = csv.writer(stream)
    writer.writerow(HEADER)
    count = 0
    for row in score_rows(companies, profile_id=profile_id):
        writer.writerow(row)
        count += 1
    return count
