"""CSV export of scores that Excel opens safely."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import QuerySet

from leads.companies import selectors
from leads.companies.selectors import BestFirst
from leads.models import Company

HEADER = ["id", "name", "website", "industry", "country", "label", "score", "fit", "evidence", "band", "neighbours"]
# A cell starting with one of these is run as a formula by spreadsheets (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Prefix text that a spreadsheet would evaluate with an apostrophe; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def score_rows(companies: QuerySet | BestFirst) -> Iterator[list]:
    """One row per company, streamed from the database; `companies` should select_related('score')."""
    batch: list[Company] = []
    for company in companies.iterator(chunk_size=2000):
        batch.append(company)
        if len(batch) == 1000:
            yield from _rows(batch)
            batch = []
    yield from _rows(batch)


def _rows(batch: list[Company]) -> Iterator[list]:
    neighbour_ids = {n["company_id"] for c in batch if hasattr(c, "score") for n in c.score.neighbours}
    names = dict(Company.objects.filter(pk__in=neighbour_ids).values_list("pk", "name"))
    distribution = selectors.score_distribution()
    for company in batch:
        score = getattr(company, "score", None)
        neighbours = [names.get(n["company_id"], "?") for n in score.neighbours] if score else []
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
            "" if score is None else selectors.band_of(score, distribution).label,
            "; ".join(neighbours),
        ]
        yield [neutralise(value) for value in row]


class _Line:
    """A file-like that hands back what csv.writer writes, for streaming responses."""

    def write(self, text: str) -> str:
        return text


def stream_scores(companies: QuerySet, *, excel_bom: bool = True) -> Iterator[str]:
    """The export as chunks of text, for a streaming HTTP response."""
    writer = csv.writer(_Line())
    if excel_bom:
        yield "\ufeff"
    yield writer.writerow(HEADER)
    for row in score_rows(companies):
        yield writer.writerow(row)


def write_scores(stream, companies: QuerySet, *, excel_bom: bool = True) -> int:
    """Write the export to a text stream; returns the number of companies written."""
    if excel_bom:
        stream.write("\ufeff")
    writer = csv.writer(stream)
    writer.writerow(HEADER)
    count = 0
    for row in score_rows(companies):
        writer.writerow(row)
        count += 1
    return count
