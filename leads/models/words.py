"""The words a search looks for and the words it finds them in: text search configurations,
tsvectors of the company's fields, the query a rep's words make (CompanyQuerySet.search)."""

from __future__ import annotations

import functools
import re

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db.models import F, Func, Value

# Name and domain as words ("Acme Corp" + "acme com"), in the 'simple' configuration: no
# stemming, no stop words, so any word a rep types can match. The embedded Postgres has no pg_trgm.
SEARCH_VECTOR = SearchVector(
    "name", Func(F("domain"), Value(r"[.\-]"), Value(" "), Value("g"), function="regexp_replace"), config="simple"
)


# Up to this many matches are passed on as a list of ids (see CompanyQuerySet.search).
SEARCH_IDS_INLINE = 20_000


def search_configurations() -> tuple[str, ...]:
    """The text search configurations words are read in: as typed ('simple': no stemming, no stop
    words, any word a rep types can match) and stemmed in each of settings.SEARCH_LANGUAGES."""
    return ("simple", *settings.SEARCH_LANGUAGES)


def words_sql(text: str) -> str:
    """The SQL tsvector of the SQL expression `text` in every search configuration (fill_words_sql;
    the configurations are settings' fixed names, never user input)."""
    return " || ".join(f"to_tsvector('{config}', {text})" for config in search_configurations())


def words_vector(*fields: str) -> SearchVector:
    """The same tsvector as words_sql, as a Django expression of the company's `fields`."""
    vectors = [SearchVector(*fields, config=config) for config in search_configurations()]
    return functools.reduce(lambda a, b: a + b, vectors)


def query_words(text: str) -> list[str]:
    """The words a search looks for: up to 8, lower case ('Acme, Co!' -> ['acme', 'co'])."""
    return re.findall(r"\w+", text.lower())[:8]


def search_query(text: str) -> SearchQuery | None:
    """'payments co' -> every word as a prefix or, in each search language, by its stem, all
    required: ('payments':* | 'payment') & ('co':* | 'co'); None for no words."""
    words = query_words(text)
    if not words:
        return None
    query = None
    for word in words:
        either = SearchQuery(f"'{word}':*", search_type="raw", config="simple")
        for language in settings.SEARCH_LANGUAGES:
            either |= SearchQuery(word, search_type="plain", config=language)
        query = either if query is None else query & either
    return query
