"""Scores out in a CRM's own import shape: the file HubSpot's, Salesforce's or Pipedrive's "update
existing records" import takes. Its id column, then fit, score, band, rank, the one-line why and
the three nearest labelled neighbours; one row per record the company has in that CRM, and only
companies that have one (the rest are counted, not written).

Plain UTF-8 without a byte-order mark: Salesforce's Data Loader would read one as part of "Id".
Cells are neutralised against spreadsheet formulas as in the CSV export (companies/exports.py)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from leads.companies import distribution as fit_distribution
from leads.companies import exports
from leads.companies.exports import neighbour_text, neutralise
from leads.crm import names
from leads.models import Company, CrmRecord
from leads.scoring import explanations

# What each row says beside its id, in this order (the headers are each CRM's spelling of these).
# evidence: labelled companies' worth close by (0..k), how much the fit stands on (scoring/evidence.py).
FIELDS = ("fit", "evidence", "score", "band", "rank", "why", "neighbour 1", "neighbour 2", "neighbour 3")
NEIGHBOURS = 3


@dataclass(frozen=True)
class Shape:
    """One CRM's import file: the header of its record id and those of the score columns."""

    crm: str  # a slug of leads.crm.names
    id_header: str
    headers: tuple[str, ...]  # FIELDS' columns, as the CRM's custom properties or fields are named

    @property
    def header(self) -> list[str]:
        return [self.id_header, *self.headers]


def _labels(field: str) -> str:
    return f"Leads {field}"  # 'Leads fit': a custom property's label in HubSpot or Pipedrive


def _api_name(field: str) -> str:
    # The API name Salesforce gives a custom field labelled 'Leads Fit': Leads_Fit__c, which Data
    # Loader's auto-match and the Data Import Wizard both map a column to.
    return "Leads_" + "_".join(word.capitalize() for word in field.split()) + "__c"


SHAPES = {
    "hubspot": Shape("hubspot", "Record ID", tuple(map(_labels, FIELDS))),
    "salesforce": Shape("salesforce", "Id", tuple(map(_api_name, FIELDS))),
    "pipedrive": Shape("pipedrive", "ID", tuple(map(_labels, FIELDS))),
}


class UnknownCrm(ValueError):
    pass


def shape_for(name: str) -> Shape:
    """The import shape of a CRM named on the command line or in a link ('hubspot', 'HubSpot')."""
    shape = SHAPES.get(names.crm_slug(name))
    if shape is None:
        raise UnknownCrm(
            f"There is no import shape for {name!r}: use one of {', '.join(SHAPES)}. "
            "For any other CRM, the CSV export carries every company's record ids in its crm_ids column."
        )
    return shape


@dataclass
class Tally:
    """What an export wrote: rows (one per record), companies, and companies skipped for having no
    record in the CRM. Filled in as the rows are read."""

    rows: int = 0
    companies: int = 0
    skipped: int = 0


def crm_rows(
    companies: Iterable[Company], shape: Shape, tally: Tally | None = None, *, profile_id: int
) -> Iterator[list]:
    """The file's rows for the companies of a listing (selectors.listing: read in the profile), in
    its order."""
    tally = tally if tally is not None else Tally()
    distribution, reach = (
        fit_distribution.score_distribution(profile_id),
        explanations.close_reach(profile_id=profile_id),
    )
    for batch in exports.in_batches(companies):
        yield from _rows(batch, shape, tally, distribution, reach)


def _rows(batch: list[Company], shape: Shape, tally: Tally, distribution, reach) -> Iterator[list]:
    """A batch's rows in two queries: its records in the CRM, the neighbours' names."""
    records: dict[int, list[str]] = {}
    found = CrmRecord.objects.filter(company_id__any_of=[c.pk for c in batch], crm=shape.crm)
    for company_id, record_id in found.order_by("record_id").values_list("company_id", "record_id"):
        records.setdefault(company_id, []).append(record_id)
    kept = [c for c in batch if c.pk in records]
    tally.skipped += len(batch) - len(kept)
    tally.companies += len(kept)
    neighbour_ids = {n["company_id"] for c in kept if c.score for n in c.score.neighbours}
    neighbours = Company.objects.only("name").in_bulk(neighbour_ids)
    for company in kept:
        cells = _cells(company, neighbours, distribution, reach)
        for record_id in records[company.pk]:
            tally.rows += 1
            yield [neutralise(value) for value in (record_id, *cells)]


def _cells(company: Company, neighbours: dict, distribution, reach) -> list:
    """FIELDS' values; empty for a company without a score (labelled, or not embedded yet)."""
    score = company.score
    if score is None:
        return [""] * len(FIELDS)
    views = explanations.neighbour_views(score, neighbours)
    nearest = [neighbour_text(view) for view in views[:NEIGHBOURS]]
    return [
        round(score.fit, 4),
        round(score.evidence, 2),
        round(score.value, 4),
        fit_distribution.band_of(score, distribution).label,
        distribution.rank_text(score.fit),
        explanations.explanation_sentence(company, views, reach),
        *nearest,
        *[""] * (NEIGHBOURS - len(nearest)),
    ]


def stream_crm_file(companies, shape: Shape, *, profile_id: int) -> Iterator[str]:
    """The file as chunks of text, for a streaming HTTP response (no BOM: CRMs read UTF-8 as it is);
    `profile_id`: as crm_rows."""
    return exports.stream_csv(shape.header, crm_rows(companies, shape, profile_id=profile_id))


def write_crm_file(stream, companies, shape: Shape, *, profile_id: int) -> Tally:
    """Write the file to a text stream (`profile_id`: as crm_rows); what was written and skipped."""
    writer = csv.writer(stream)
    writer.writerow(shape.header)
    tally = Tally()
    writer.writerows(crm_rows(companies, shape, tally, profile_id=profile_id))
    return tally
