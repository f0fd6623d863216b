"""Companies, their vectors and the labels reps give them."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchQuery, SearchVectorField
from django.db import connection, models
from django.db.models import Exists, F, FilteredRelation, Func, OuterRef, Q, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce, Upper
from pgvector.django import VectorField

from leads.companies.countries import country_name, normalise_country
from leads.companies.identity import dedupe_key, embedding_text, read_website, text_hash
from leads.crm.names import MAX_RECORD_ID
from leads.imports import numbers
from leads.models.access import APP_PERMISSIONS
from leads.models.imports import ImportedCompany
from leads.models.lookups import Ids, id_array
from leads.models.profiles import CurrentVerdict, ProfileScore
from leads.models.words import (  # noqa: F401 - words_sql: migration 0021 reads it from here
    SEARCH_IDS_INLINE,
    SEARCH_VECTOR,
    query_words,
    search_configurations,
    search_query,
    words_sql,
    words_vector,
)


def current_vector_exists(model_name: str, company: str = "pk", text_hash: str = "text_hash") -> Exists:
    """For a correlated subquery: the outer row's company (`company`, `text_hash`: its fields as
    seen from the outer query) has a current vector. One index probe per outer row."""
    vectors = CompanyEmbedding.objects.current(model_name, text_hash=OuterRef(text_hash))
    return Exists(vectors.filter(company=OuterRef(company)))


class CompanyEmbeddingQuerySet(models.QuerySet):
    def current(self, model_name: str, *, text_hash=None) -> CompanyEmbeddingQuerySet:
        """THE definition of a company's current vector: made by `model_name` from the company's
        current text (its text hash). Anything else is stale and is never scored or searched.

        `text_hash` lets a correlated subquery pass the outer company's hash (an OuterRef)
        instead of joining the companies table again."""
        return self.filter(model_name=model_name, text_hash=text_hash or models.F("company__text_hash"))

    def to_score(self, model_name: str, profile_id: int) -> CompanyEmbeddingQuerySet:
        """Current vectors of the companies unlabelled in the profile: the companies it scores."""
        return self.current(model_name).exclude(_verdict_in(profile_id, "company_id"))

    def labelled(self, model_name: str, profile_id: int) -> CompanyEmbeddingQuerySet:
        """Current vectors of the companies labelled in the profile: the neighbours its scores are made of."""
        return self.current(model_name).filter(_verdict_in(profile_id, "company_id"))


def _verdict_in(profile_id: int, company: str = "pk") -> Exists:
    """The company (OuterRef(`company`)) has a verdict in the profile."""
    return Exists(CurrentVerdict.objects.filter(profile_id=profile_id, company_id=OuterRef(company)))


def sized_vector(dimensions: int) -> Cast:
    """The vector column cast to one encoder's size: the expression its HNSW index is built on
    (models.encoders.hnsw_index_sql), so a nearest-neighbour query must order by it."""
    return Cast("vector", VectorField(dimensions=dimensions))


def _surely_more_than(rows: models.QuerySet, count: int) -> bool:
    """Whether Postgres's statistics put `rows` at four times `count` or more (a plan, not a scan).

    Listing the first SEARCH_IDS_INLINE matches of a common word only to learn that there are
    more is slow at a million companies (docs/benchmarks.md, *Figures behind the design*). The planner knows a common word's frequency from
    the words' statistics (within ~2% of the truth for the words a search finds most often), and
    guesses a small number for any other: a margin of four leaves no doubt. A wrong "yes" would
    only choose the walk, which is exact too; the count would then say "at least"."""
    plan = json.loads(rows.explain(format="json"))
    return plan[0]["Plan"]["Plan Rows"] >= 4 * count


# Where matching() puts a slice's ids in its statement's parameters (compared by identity).
_IDS = object()


@dataclass(frozen=True)
class Found:
    """A search's companies and how a listing in score order pages through them (selectors.BestFirst)."""

    companies: CompanyQuerySet
    ids: list[int] | None = None  # every match, when there are few enough to list (SEARCH_IDS_INLINE)
    literal: Ids | None = None  # the same ids as one array literal, built once for every query that repeats them
    dense: SearchQuery | None = None  # a word too common to list: its query, to check the best scores by
    by_record: frozenset[int] = frozenset()  # the companies whose CRM record id is the query, as typed
    query: str = ""  # what was typed, for a dense search (named_prefilter)

    def matching(self, ids: list[int]) -> set[int]:
        """Which of `ids` a dense search matches: two lookups by id (name and domain, and the
        words) in one statement, their union, where one query with both conditions joins and
        costs five times that. The statement is built once per search (_matching_sql) and run
        with each slice of a walk's ids."""
        sql, params = self._matching_sql
        with connection.cursor() as cursor:
            cursor.execute(sql, [id_array(ids) if param is _IDS else param for param in params])
            found = {pk for (pk,) in cursor.fetchall()}
        return found | (self.by_record & set(ids))

    @functools.cached_property
    def _matching_sql(self) -> tuple[str, list]:
        """matching()'s statement, the ids left as _IDS in its parameters."""
        literal = Ids([])
        literal.literal = _IDS
        named = (
            Company.objects.filter(pk__any_of=literal).alias(search_words=SEARCH_VECTOR).filter(search_words=self.dense)
        )
        if self.named_prefilter is not None:
            named = named.filter(self.named_prefilter)
        words = CompanyWords.objects.filter(company_id__any_of=literal, words=self.dense)
        either = named.order_by().values_list("pk", flat=True).union(words.values_list("company_id", flat=True))
        sql, params = either.query.sql_with_params()
        assert sum(param is _IDS for param in params) == 2, "the ids go in both lookups"
        return sql, list(params)

    @functools.cached_property
    def named_prefilter(self) -> RawSQL | None:
        """What a company's name and domain must contain for the dense search to match them, as a
        cheap SQL condition checked before their words are computed (~10 us a company, most of a
        walk's time; docs/benchmarks.md, *Word search at a million companies*). None when it
        cannot be said.

        A word of search_query matches as one of its alternatives: 'w':* in 'simple' (every lexeme
        of the word as a prefix) or the word's stems in a language (every stem, exactly); an
        alternative without lexemes (a stop word) drops out, as Postgres's tsquery `||` drops it.
        A 'simple' lexeme of the name is a token of the name or domain in lower case, so each
        lexeme of a matching alternative is a substring of the lower-case name and domain: a
        necessary condition, never a sufficient one (the words are still checked after it)."""
        words = query_words(self.query)
        if not words:
            return None
        columns = ", ".join(
            f"tsvector_to_array(to_tsvector('{config}', w))" for config in ("simple", *settings.SEARCH_LANGUAGES)
        )
        with connection.cursor() as cursor:
            cursor.execute(f"select {columns} from unnest(%s::text[]) with ordinality as t(w, i) order by i", [words])
            rows = cursor.fetchall()
        text = """lower(coalesce("leads_company"."name", '') || ' ' || coalesce("leads_company"."domain", ''))"""
        conditions, params = [], []
        for simple, *stems in rows:
            if not simple:  # no lexeme as typed: leave the check to Postgres
                return None
            either = []
            for lexemes in _weakest({tuple(lexemes) for lexemes in (simple, *stems) if lexemes}):
                either.append(" and ".join([f"strpos({text}, %s) > 0"] * len(lexemes)))
                params += lexemes
            conditions.append("(" + " or ".join(f"({alternative})" for alternative in either) + ")")
        return RawSQL(" and ".join(conditions), params, output_field=models.BooleanField())


def _weakest(alternatives: set[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Of substring conditions (each: all its strings are in the text), those that no other one
    implies, in a stable order: 'software' in a text implies 'softwar' is, so ('software',) or
    ('softwar',) is ('softwar',) alone (each string computed in SQL costs a lower() per company)."""

    def implies(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
        return all(any(inner in outer for outer in a) for inner in b)

    kept: list[tuple[str, ...]] = []
    for alternative in sorted(alternatives, key=lambda lexemes: (sum(map(len, lexemes)), lexemes)):
        if not any(implies(alternative, weaker) for weaker in kept):
            kept.append(alternative)
    return kept


class CountryName(Func):
    """companies.countries.country_name in SQL (the function migration 0047 makes): 'DE' -> 'Germany'."""

    function = "leads_country_name"
    output_field = models.CharField()


class CompanyQuerySet(models.QuerySet):
    def in_country(self, value: str) -> CompanyQuerySet:
        """Companies of a country given any way ('Germany', 'germany', 'DE', 'Deutschland'), or of
        a value we know no country of, as given, case aside: off the company_country_name index."""
        name = country_name(normalise_country(value)).upper()
        return self.annotate(country_key=Upper(CountryName("country"))).filter(country_key=name)

    def of_import(self, job_id: int) -> CompanyQuerySet:
        """The companies import `job_id` created or changed (ImportedCompany), whatever imported
        them since."""
        return self.filter(Exists(ImportedCompany.objects.filter(job_id=job_id, company_id=OuterRef("pk"))))

    def with_current_embedding(self, model_name: str) -> CompanyQuerySet:
        """Companies whose embedding was made by `model_name` from their current text."""
        return self.filter(current_vector_exists(model_name))

    def needing_embedding(self, model_name: str) -> CompanyQuerySet:
        return self.exclude(current_vector_exists(model_name))

    def with_stale_embedding(self, model_name: str) -> CompanyQuerySet:
        """Companies that have a vector from `model_name`, but not for their current text."""
        any_vector = Exists(CompanyEmbedding.objects.filter(company=OuterRef("pk"), model_name=model_name))
        return self.filter(any_vector).exclude(current_vector_exists(model_name))

    def in_profile(self, profile_id: int) -> CompanyQuerySet:
        """The companies as one profile sees them: `score`, its Score row (None: not scored there;
        `select_related("score")` loads it), and `verdict`, the verdict there ('': none)."""
        return (
            self.annotate(
                score=FilteredRelation("scores", condition=Q(scores__profile_id=profile_id)),
                current=FilteredRelation("verdicts", condition=Q(verdicts__profile_id=profile_id)),
            )
            .annotate(verdict=Coalesce(F("current__verdict"), Value("")))
            .select_related("score")
        )

    def labelled(self, profile_id: int) -> CompanyQuerySet:
        return self.filter(_verdict_in(profile_id))

    def unlabelled(self, profile_id: int) -> CompanyQuerySet:
        return self.exclude(_verdict_in(profile_id))

    def search(self, query: str) -> CompanyQuerySet:
        """Companies with words starting with each word of the query (or, in SEARCH_LANGUAGES,
        with its stem) in their name or domain (at once) or in their name, industry and description
        (once embedded: CompanyWords): 'brew' finds 'Alpha Brewing', 'acme' finds 'acme.com'."""
        return self.found_by(query).companies

    def found_by(self, query: str) -> Found:
        """search(), with what a listing in score order needs to page through the matches."""
        if not query.strip():
            return Found(self)
        by_record = self.with_record_id(query)
        parsed = search_query(query)
        if parsed is None:  # only punctuation: no word can match, on the score side either
            listed = sorted(by_record)  # an empty list, not none: else BestFirst reads every best score (#24)
            return Found(self.filter(pk__any_of=listed) if listed else self.none(), ids=listed, literal=Ids(listed))
        # Find the matches once through the GIN indexes and pass them on as one array of ids, not
        # an IN list (docs/benchmarks.md, search): else Postgres walks the dashboard's score order
        # computing each company's words until a page is full. A word in more than
        # SEARCH_IDS_INLINE companies fills a page after a short walk instead.
        named = self.alias(search_words=SEARCH_VECTOR).filter(search_words=parsed).order_by()
        described = CompanyWords.objects.filter(words=parsed)
        if not _surely_more_than(described, SEARCH_IDS_INLINE):
            ids = set(named.values_list("pk", flat=True)[: SEARCH_IDS_INLINE + 1])
            if len(ids) <= SEARCH_IDS_INLINE:
                ids.update(described.values_list("company_id", flat=True)[: SEARCH_IDS_INLINE + 1])
            ids |= by_record
            if len(ids) <= SEARCH_IDS_INLINE:
                literal = Ids(sorted(ids))
                return Found(self.filter(pk__any_of=literal), ids=sorted(ids), literal=literal)
        # A common word: listing every match costs more than walking the best scores until a page
        # is full (BestFirst does, with Found.matching).
        words = Q(search_words=parsed) | Q(words__words=parsed) | Q(pk__in=by_record)
        return Found(
            self.alias(search_words=SEARCH_VECTOR).filter(words), dense=parsed, by_record=by_record, query=query
        )

    def with_record_id(self, query: str) -> frozenset[int]:
        """The companies with the query as a CRM record id ('0015g00000XyZab', '123456789'), in
        any CRM: exact, off the record id's index (CrmRecord's constraint)."""
        text = query.strip()
        if not text or len(text) > MAX_RECORD_ID or any(ch.isspace() for ch in text):
            return frozenset()
        return frozenset(self.filter(crm_records__record_id=text).values_list("pk", flat=True)[:SEARCH_IDS_INLINE])

    def with_embedding_status(self, model_name: str) -> CompanyQuerySet:
        """Annotate `is_embedded`: a vector from `model_name` for the current text exists."""
        return self.annotate(is_embedded=current_vector_exists(model_name))


def number_index(column: str) -> models.Index:
    """A typed number's index for its ranges and orders (ties by id), partial: an import without it
    adds no entries. It carries the other numbers: a count of ranges reads the index, not the wide rows (docs/benchmarks.md, *Number filters at a million*)."""
    others = [other for other in numbers.COLUMNS if other != column]
    condition = Q(**{f"{column}__isnull": False})
    return models.Index(fields=[column, "id"], include=others, condition=condition, name=f"company_{column}")


class Company(models.Model):
    name = models.CharField(max_length=300)
    website = models.CharField(max_length=500, blank=True)
    # Lowercase host without scheme, "www." or path: the dedupe key when present.
    domain = models.CharField(max_length=255, blank=True)
    # The domain, or the normalised name plus country: one company per key (see Meta).
    dedupe_key = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    industry = models.CharField(max_length=200, blank=True)
    # ISO 3166-1 alpha-2 ('DE') where the value given names a country, else that value as given
    # (companies.countries); shown as a name (country_name). What filters and the dedupe key use.
    country = models.CharField(max_length=100, blank=True)
    # The country as the file or the form gave it ('Deutschland'), so that normalising loses nothing.
    country_as_given = models.CharField(max_length=100, blank=True)
    # Every other imported column (employees, founded, revenue, linkedin_url, ...), as given.
    extra = models.JSONField(default=dict, blank=True)
    # extra's employees, founded and revenue read as numbers (imports/numbers.py), for filters and
    # orderings; None where not given or not readable. A range ('51-200') is its lower bound.
    employees = models.IntegerField(null=True, blank=True)
    founded = models.SmallIntegerField(null=True, blank=True)  # a year
    revenue = models.BigIntegerField(null=True, blank=True)  # whole currency units, not converted
    # Hash of embedding_text(): tells the worker whether the stored vector is stale.
    text_hash = models.CharField(max_length=64, editable=False)
    # The rep whose company this is (None: unassigned); written only by leads/owners/services.py.
    # No index of Django's own: a partial one (Meta) over the assigned companies, so that a
    # million-row import of unassigned companies adds no index entries.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_companies",
        db_index=False,
    )
    # The import that last created or changed this company: drives that import's progress bar.
    import_job = models.ForeignKey(
        "ImportJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="companies"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CompanyQuerySet.as_manager()
    score = ProfileScore()

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]
        permissions = APP_PERMISSIONS  # what each role may do: leads.accounts.roles
        # Few indexes on purpose: every one of them slows a million-row import
        # (Django's unique=True would add a second, LIKE-only index as well).
        constraints = [models.UniqueConstraint(fields=["dedupe_key"], name="one_company_per_dedupe_key")]
        indexes = [
            # Word-prefix search on name and domain (see CompanyQuerySet.search).
            GinIndex(SEARCH_VECTOR, name="company_name_domain_search"),
            # The dashboard's and the admin's industry and country filters (any case: iexact), and
            # the orders by name, industry and country (companies.orderings.ORDERINGS): a page is
            # the first entries of the index, ties by id, whichever way.
            models.Index(Upper("name"), F("id"), name="company_name"),
            models.Index(Upper("industry"), F("id"), name="company_industry"),
            # Country: by its name, as shown (CountryName), for the filter and the order alike.
            models.Index(Upper(CountryName("country")), F("id"), name="company_country_name"),
            # A saved view's companies new since a rep's last visit (savedviews.services).
            models.Index(fields=["created_at"], name="company_created"),
            # "My companies" and a rep's companies (owner = X; also what SET_NULL on a deleted
            # user probes). "Unassigned" is most companies: the dashboard walks the best scores.
            models.Index(fields=["owner"], condition=Q(owner__isnull=False), name="company_owner"),
            # Ranges and orders of the typed numbers (ties by id): number_index.
            *(number_index(column) for column in numbers.COLUMNS),
        ]

    def __str__(self) -> str:
        return self.name

    def get_verdict_display(self) -> str:
        """'Liked' / 'Disliked' / '': the verdict in the profile the company was read in (in_profile)."""
        return {"like": "Liked", "dislike": "Disliked"}.get(self.verdict, "")

    @property
    def country_name(self) -> str:
        """'Germany' for 'DE'; a country we know no code of as it was given."""
        return country_name(self.country)

    @property
    def figures(self) -> dict[str, str]:
        """The kept columns as a page shows them: a number read from a range or a date says what
        was stored ({'employees': '51–200 (stored as 51)'}); other columns as given."""
        return {key: numbers.shown(str(value), getattr(self, key)) if key in numbers.COLUMNS else value
                for key, value in self.extra.items()}  # fmt: skip

    @property
    def text(self) -> str:
        return embedding_text(name=self.name, description=self.description, industry=self.industry)

    def key_to_save(self) -> str:
        """The dedupe key save() gives the company (its domain, or without a website its name and
        country), worked out without changing it: what a form checks before saving."""
        return dedupe_key(
            name=self.name, domain=read_website(self.website).domain, country=normalise_country(self.country.strip())
        )

    def save(self, *args, **kwargs) -> None:
        # The import's one form (identity.read_website): the address as given, '' for a
        # placeholder such as 'n/a' or a bare 'https://', and its domain, which lists show.
        website = read_website(self.website)
        self.website, self.domain = website.url, website.domain
        # The import's rule for countries: the code, and what was given. A form showing the code
        # ('DE') sends it back: that keeps the 'Deutschland' it was given.
        given = self.country.strip()
        code = normalise_country(given)
        if given != code or normalise_country(self.country_as_given) != code:
            self.country_as_given = given
        self.country = code
        self.dedupe_key = self.key_to_save()
        self.text_hash = text_hash(self.text)
        super().save(*args, **kwargs)


class CompanyEmbedding(models.Model):
    """One vector per company and encoder, in its own table so that writing
    scores or editing companies never rewrites HNSW index entries.

    The column takes vectors of any size: while switch_model runs, the active encoder's vectors
    and the next one's live side by side. Each encoder's vectors have their own partial HNSW
    index (models.encoders.hnsw_index_sql), which a query uses by asking for that encoder's
    vectors cast to its size (`sized_vector`)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="embeddings")
    model_name = models.CharField(max_length=300)
    text_hash = models.CharField(max_length=64)
    vector = VectorField()
    # When it was written: the writing transaction's start (embedding.services). Indexed: a worker's
    # copy of the vectors reads what was written since it last looked (scoring.vector_copy).
    created_at = models.DateTimeField(auto_now=True)

    objects = CompanyEmbeddingQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company", "model_name"], name="one_embedding_per_model")]
        indexes = [models.Index(fields=["created_at"], name="embedding_written")]


# The words of a company's embedded text (name, industry, description), in the same 'simple'
# configuration as SEARCH_VECTOR. One statement for the embedding service and the migration.
def fill_words_sql() -> str:
    """Insert or update the CompanyWords of the companies whose ids are the one parameter."""
    return f"""
insert into leads_companywords (company_id, words)
select id, {words_sql("concat_ws(' ', name, industry, description)")} from leads_company
where id = any(%s::bigint[])
on conflict (company_id) do update set words = excluded.words
"""


class CompanyWords(models.Model):
    """The words of a company's name, industry and description, for search (GIN index).

    Written with the company's vector by the embedding service, not by the import: computing the
    words of a million descriptions and indexing them would double a million-row import, and
    costs nothing beside embedding one (docs/benchmarks.md, *Figures behind the design*). So a
    description is searchable once its company is embedded; names and domains are at once
    (SEARCH_VECTOR, on the company row)."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, primary_key=True, related_name="words")
    words = SearchVectorField()

    class Meta:
        indexes = [GinIndex(fields=["words"], name="company_words_search")]
