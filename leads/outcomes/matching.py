"""A deals file read and its deals matched to companies: the preview's dry run and the import both
read through here, so that they say the same. Read-side: nothing here writes.

A deal finds its company by the CRM's record id (CrmRecord), else by domain, else by exact
normalised name (companies.identity.normalise_name: 'Acme, Inc.' is 'ACME inc'); a row none
of them finds is rejected with the keys it tried."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import BinaryIO

from django.contrib.postgres.search import SearchQuery
from django.db.models import Min

from leads.companies.identity import normalise_name
from leads.crm.selectors import companies_by_record
from leads.imports import tabular
from leads.imports.csvfiles import Rejected
from leads.models import SEARCH_VECTOR, Company, MatchedBy, OutcomeImport
from leads.outcomes import deals as deal_rows

NAME_WORDS_PER_QUERY = 500
PROGRESS_EVERY = 5_000  # rows between two calls of read_file's `progress`


@dataclass
class Matched:
    deal: deal_rows.Deal
    company_id: int
    by: str  # MatchedBy


@dataclass
class Reading:
    """What importing the file would do: deals matched (by which key), rows rejected (why), and the
    stages no CRM's default pipeline names (read as chosen, else open)."""

    matched: list[Matched] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    unknown_stages: list[str] = field(default_factory=list)
    rows: int = 0

    @property
    def counts(self) -> dict[str, int]:
        """{"record": 3, "domain": 2, "name": 1}: matches by key, every key present."""
        found = Counter(m.by for m in self.matched)
        return {by.value: found.get(by.value, 0) for by in MatchedBy}

    @property
    def unread_amounts(self) -> list[Rejected]:
        """The deals kept without an amount because it could not be read, each with its line and
        what to write instead (a Rejected's shape, though the deal is imported)."""
        found = [m.deal for m in self.matched if m.deal.amount_unread]
        return [Rejected(d.line, deal_rows.unread_amount_note(d.amount_unread), d.values) for d in found]

    @property
    def stages(self) -> dict[str, int]:
        found = Counter(m.deal.stage for m in self.matched)
        return {stage: found.get(stage, 0) for stage in deal_rows.STAGES}


def read_file(
    job: OutcomeImport, *, stream: BinaryIO | None = None, progress: Callable[[int], None] | None = None
) -> Reading:
    """Every row of the job's file (or of `stream`, a dry run's), read with the job's mapping and
    stages, and matched to companies; `progress(rows read)` every PROGRESS_EVERY rows."""
    chosen, mapping, reading, deals = job.stages, job.column_mapping(), Reading(), []
    with job.file.open("rb") if stream is None else nullcontext(stream) as stream:
        for line, cells in tabular.read_rows(stream, job.dialect()):
            reading.rows += 1
            if progress is not None and reading.rows % PROGRESS_EVERY == 0:
                progress(reading.rows)
            read = deal_rows.to_deal(line, cells, mapping, stages=chosen)
            (reading.rejected if isinstance(read, Rejected) else deals).append(read)
    if deal_rows.slash_order(d.closed_text for d in deals):  # '31/12/2024' in the file: '05/03/2024' is 5 March
        for deal in deals:
            deal.closed_on = deal_rows.read_date(deal.closed_text, day_first=True) if deal.closed_text else None
    reading.unknown_stages = deal_rows.unknown_stages([d.values for d in deals], mapping)
    matched, unmatched = match(deals, crm=job.crm)
    reading.matched, earlier = _last_row_of_each_deal(matched)
    reading.rejected += [Rejected(d.line, _no_match(d, job.crm), d.values) for d in unmatched] + earlier
    reading.rejected.sort(key=lambda r: r.line)
    return reading


def _last_row_of_each_deal(matched: list[Matched]) -> tuple[list[Matched], list[Rejected]]:
    """A deal on several rows of one file counts once, as its last row says; each earlier row comes
    back as a reject that names the row that counts, so every row of the file is accounted for."""
    last = {found.deal.key: found for found in matched}
    kept = [found for found in matched if last[found.deal.key] is found]
    earlier = [
        Rejected(found.deal.line, _repeated(found.deal, last[found.deal.key].deal.line), found.deal.values)
        for found in matched
        if last[found.deal.key] is not found
    ]
    return kept, earlier


def _repeated(deal: deal_rows.Deal, line: int) -> str:
    which = f"deal {deal.deal_id[:40]!r}" if deal.deal_id else "a deal of the same company and name"
    return f"{which} is on line {line} too: a deal is one row, and its last row counts"


def match(deals: list[deal_rows.Deal], *, crm: str) -> tuple[list[Matched], list[deal_rows.Deal]]:
    """Each deal's company, by record id, then domain, then name; the deals none finds."""
    by_record = companies_by_record(crm, [r for d in deals for r in d.record_ids]) if crm else {}
    by_domain = _by_domain({d.domain for d in deals if d.domain})
    by_name = _by_name({d.normalised_name for d in deals if d.name})
    matched, unmatched = [], []
    for deal in deals:
        record = next((by_record[r] for r in deal.record_ids if r in by_record), None)
        if record is not None:
            matched.append(Matched(deal, record, MatchedBy.RECORD))
        elif deal.domain in by_domain:
            matched.append(Matched(deal, by_domain[deal.domain], MatchedBy.DOMAIN))
        elif deal.name and deal.normalised_name in by_name:
            matched.append(Matched(deal, by_name[deal.normalised_name], MatchedBy.NAME))
        else:
            unmatched.append(deal)
    return matched, unmatched


def _by_domain(domains: set[str]) -> dict[str, int]:
    """domain -> company (the oldest where one domain has several: companies in several countries)."""
    rows = Company.objects.filter(domain__in=domains).values("domain").annotate(first=Min("pk"))
    return {row["domain"]: row["first"] for row in rows} if domains else {}


def _by_name(names: set[str]) -> dict[str, int]:
    """normalised name -> company. The candidates come off the name-and-domain word index (any
    company with the name's first word), then the exact normalised name decides: no scan of a
    million names."""
    firsts = sorted({name.split()[0] for name in names if name.split()})
    found: dict[str, int] = {}
    for start in range(0, len(firsts), NAME_WORDS_PER_QUERY):
        words = " | ".join(f"'{w}'" for w in firsts[start : start + NAME_WORDS_PER_QUERY] if re.fullmatch(r"\w+", w))
        if not words:
            continue
        query = SearchQuery(words, search_type="raw", config="simple")
        candidates = Company.objects.alias(name_words=SEARCH_VECTOR).filter(name_words=query).order_by("pk")
        for pk, name in candidates.values_list("pk", "name").iterator():
            normalised = normalise_name(name)
            if normalised in names:
                found.setdefault(normalised, pk)
    return found


def _no_match(deal: deal_rows.Deal, crm: str) -> str:
    tried = []
    if deal.record_ids:
        tried.append(f"{crm or 'CRM'} record id {', '.join(deal.record_ids)[:60]}")
    if deal.domain:
        tried.append(f"domain {deal.domain}")
    if deal.name:
        tried.append(f"name {deal.name[:60]!r}")
    return f"no company has the {' or the '.join(tried)}: import the company first, or correct the row"
