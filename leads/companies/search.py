"""Why a word search found a company, and search by meaning: read-side, for the dashboard and the API.

Word search itself is CompanyQuerySet.search (models/companies.py): each word as a prefix or by its
stem in settings.SEARCH_LANGUAGES. Search by meaning embeds a description of the company a rep is
looking for with the active encoder and walks the same HNSW index as similar companies."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.search import SearchHeadline
from django.db.models import F, Func, Value

from leads.companies import selectors
from leads.embedding import active
from leads.models import Company, search_query

# Marks around a matched word in Postgres's headline: control characters no company text is
# shown with, split out again in Python so that the page escapes the text and marks the words.
START, STOP = "\x02", "\x03"
# Where a word matched, in the order a rep reads them, and what the page calls them.
FIELDS = {"name": "name", "domain": "website", "industry": "industry", "description": "description"}
# Words of a description shown before its first matched word (and twice as many after).
EXCERPT_WORDS = 8
# The longest description of the company a rep is looking for (a few sentences).
MEANING_MAX_CHARS = 500


@dataclass(frozen=True)
class SearchMatch:
    """Why a company matched a word search: the fields holding the words (FIELDS' names, in their
    order) and the matched part of its description as (text, is_a_matched_word) pieces."""

    fields: tuple[str, ...]
    excerpt: tuple[tuple[str, bool], ...]


def search_matches(company_ids: list[int], query: str) -> dict[int, SearchMatch]:
    """For a page of companies a word search found: where each one's words matched (one query for
    the page; {} without words). A word is looked for as typed (a prefix) and by its stem, as the
    search does: 'payments' shows 'payment' in 'payment terminals'."""
    parsed = search_query(query)
    if parsed is None or not company_ids:
        return {}
    domain_words = Func(F("domain"), Value(r"[.\-]"), Value(" "), Value("g"), function="regexp_replace")
    sources = {"name": F("name"), "domain": domain_words, "industry": F("industry"), "description": F("description")}
    configs = ("simple", *settings.SEARCH_LANGUAGES[:1])  # as typed, then stemmed ('runs' for 'running')
    headlines = {
        f"{field}_{config}": SearchHeadline(
            source,
            parsed,
            config=config,
            start_sel=START,
            stop_sel=STOP,
            **(
                {"max_words": 18, "min_words": 8, "max_fragments": 1}
                if field == "description"
                else {"highlight_all": True}
            ),
        )  # fmt: skip
        for field, source in sources.items()
        for config in configs
    }
    rows = Company.objects.filter(pk__any_of=company_ids).annotate(**headlines).values("pk", "description", *headlines)
    matches = {}
    for row in rows:
        marked = {field: _first_marked(row[f"{field}_{config}"] for config in configs) for field in FIELDS}
        fields = tuple(FIELDS[field] for field, text in marked.items() if text)
        words = _marked_words(marked["description"] or "")
        matches[row["pk"]] = SearchMatch(fields, _excerpt(row["description"], words) if words else ())
    return matches


def _first_marked(headlines) -> str | None:
    return next((text for text in headlines if text and START in text), None)


def _marked_words(headline: str) -> set[str]:
    """The words Postgres marked in a headline ('a \x02payment\x03 b' -> {'payment'}), case aside."""
    return {part.partition(STOP)[0].casefold() for part in headline.split(START)[1:]}


def _excerpt(text: str, words: set[str], around: int = EXCERPT_WORDS) -> tuple[tuple[str, bool], ...]:
    """The part of `text` around its first matched word, as the company wrote it, cut into
    (text, is_a_matched_word) pieces. Built here, not from Postgres's headline, which drops what
    its parser takes for markup ('<b>')."""
    tokens = re.split(r"(\w+)", text)  # odd indexes: the words; even: what lies between them
    hits = [i for i in range(1, len(tokens), 2) if tokens[i].casefold() in words]
    if not hits:
        return ()
    low, high = max(0, hits[0] - 2 * around), min(len(tokens), hits[0] + 4 * around + 1)  # words at both ends
    pieces = [("…", False)] if low else []
    pieces += [(tokens[i], i % 2 == 1 and tokens[i].casefold() in words) for i in range(low, high)]
    pieces += [("…", False)] if high < len(tokens) else []
    return tuple((piece, hit) for piece, hit in pieces if piece)


class BadDescription(ValueError):
    pass


def by_meaning(text: str, *, limit: int = 50) -> list[selectors.SimilarCompany]:
    """The `limit` companies whose descriptions are nearest in meaning to `text` ("cold storage
    for seafood exporters"), nearest first: `text` embedded with the active encoder (loaded in this
    process on the first search), then the HNSW index as for similar companies."""
    text = " ".join(text.split())
    if not text:
        raise BadDescription("Describe the company you are looking for in a few words.")
    if len(text) > MEANING_MAX_CHARS:
        raise BadDescription(f"Describe it in at most {MEANING_MAX_CHARS} characters (got {len(text)}).")
    if "\x00" in text:
        raise BadDescription("The description holds a NUL character: type it again.")
    vector = active.encode([text])[0]
    return selectors.nearest_to(vector, limit=limit)
