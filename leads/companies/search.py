"""Why a word search found a company, and search by meaning: read-side, for the dashboard and the API.

Word search itself is CompanyQuerySet.search (models/companies.py): each word as a prefix or by its
stem in settings.SEARCH_LANGUAGES. Search by meaning embeds a description of the company a rep is
looking for with the active encoder and walks the same HNSW index as similar companies."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from leads.companies import nearest
from leads.embedding import active
from leads.models import Company
from leads.models.companies import query_words

# Where a word matched, in the order a rep reads them, and what the page calls them.
FIELDS = {"name": "name", "domain": "website", "industry": "industry", "description": "description"}
RECORD_ID = "CRM record id"  # the query is one of the company's record ids (CompanyQuerySet.with_record_id)
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
    """For a page of companies a word search found: where each one's words matched ({} without
    words). A word of a company matches as the search matches it: it starts with a word typed, or
    has the same stem in settings.SEARCH_LANGUAGES ('payments' marks 'payment' in 'payment
    terminals'). Three small queries for the page: its texts, the stems of the words typed, and
    those of the page's words that may share one."""
    typed = query_words(query)
    if not typed or not company_ids:
        return {}
    rows = Company.objects.filter(pk__any_of=company_ids).values_list("pk", *FIELDS)
    texts = {pk: dict(zip(FIELDS, values, strict=True)) for pk, *values in rows}
    for fields in texts.values():
        fields["domain"] = re.sub(r"[.\-]", " ", fields["domain"])  # as the search reads it
    wanted = set().union(*_stems(set(typed)).values())
    # A word can share a stem only with words that begin as the stem does (Snowball changes endings):
    # only those of the page are stemmed, not its every word.
    beginnings = tuple({stem[:3] for stem in wanted})
    written = set(WORD.findall(" ".join(text for fields in texts.values() for text in fields.values())))
    tokens = {token.casefold() for token in written}
    stems = _stems({token for token in tokens if token.startswith(beginnings)}) if beginnings else {}
    prefixes = tuple(typed)
    # Each distinct word of the page decided once; then a word's test is a set lookup.
    hit_words = {
        word
        for word in written
        if (folded := word.casefold()).startswith(prefixes) or stems.get(folded, set()) & wanted
    }
    matches = hit_words.__contains__

    by_record = Company.objects.filter(pk__any_of=company_ids).with_record_id(query)
    found = {}
    for pk, fields in texts.items():
        excerpt = _excerpt(fields["description"], matches)  # empty when no word of it matches
        hits = {field: any(map(matches, WORD.findall(fields[field]))) for field in FIELDS if field != "description"}
        hits["description"] = bool(excerpt)
        where = tuple(label for field, label in FIELDS.items() if hits[field])
        where = (RECORD_ID, *where) if pk in by_record else where
        found[pk] = SearchMatch(where, excerpt)
    return found


WORD = re.compile(r"\w+")


def _stems(words: set[str]) -> dict[str, set[str]]:
    """Each word's stems in settings.SEARCH_LANGUAGES, as Postgres stems them (one query)."""
    if not settings.SEARCH_LANGUAGES or not words:
        return {}
    vectors = " || ".join(f"to_tsvector('{language}', w)" for language in settings.SEARCH_LANGUAGES)
    with connection.cursor() as cursor:
        cursor.execute(f"select w, tsvector_to_array({vectors}) from unnest(%s::text[]) as w", [sorted(words)])
        return {word: set(stems) for word, stems in cursor.fetchall()}


def _excerpt(text: str, matches, around: int = EXCERPT_WORDS) -> tuple[tuple[str, bool], ...]:
    """The part of `text` around its first word that `matches`, as the company wrote it, cut into
    (text, is_a_matched_word) pieces; () when none matches."""
    tokens = re.split(r"(\w+)", text)  # odd indexes: the words; even: what lies between them
    hits = list(map(matches, tokens[1::2]))  # token i (odd) is word i // 2
    if True not in hits:
        return ()
    first = 2 * hits.index(True) + 1
    low, high = max(0, first - 2 * around), min(len(tokens), first + 4 * around + 1)  # words at both ends
    pieces = [("…", False)] if low else []
    pieces += [(tokens[i], i % 2 == 1 and hits[i // 2]) for i in range(low, high)]
    pieces += [("…", False)] if high < len(tokens) else []
    # The text between two matched words as one piece: a page renders 50 excerpts, and a template
    # loop costs per piece (~50 a row, piece by piece: half the time of rendering a search's page).
    merged: list[tuple[str, bool]] = []
    for piece, hit in pieces:
        if not piece:
            continue
        if merged and not hit and not merged[-1][1]:
            merged[-1] = (merged[-1][0] + piece, False)
        else:
            merged.append((piece, hit))
    return tuple(merged)


class BadDescription(ValueError):
    pass


def by_meaning(text: str, *, profile_id: int, limit: int = 50) -> list[nearest.SimilarCompany]:
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
    return nearest.nearest_to(vector, profile_id=profile_id, limit=limit)
