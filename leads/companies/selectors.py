"""Read-side queries shared by the dashboard, the API, the admin and exports: the companies the
filters select, paged in every order (the distribution of fits: distribution.py; nearest companies: nearest.py)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery
from django.db.models import Exists, OuterRef, Q

from leads.companies import orderings, ranges
from leads.companies.distribution import score_distribution
from leads.core.params import whole_number
from leads.embedding import active
from leads.models import (
    Company,
    CompanyEmbedding,
    CompanyQuerySet,
    CurrentVerdict,
    ImportJob,
    PendingScoreChange,
    Score,
)
from leads.models import companies as company_models
from leads.models.companies import Found
from leads.models.lookups import Ids
from leads.owners import selectors as owner_selectors
from leads.scoring import bands

# On companies read in a profile (Company.objects.in_profile): `current` is its verdict there.
# "unlabelled" is NOT EXISTS (an anti-join with the profile's few verdicts), which keeps a count of
# number ranges on the number's index alone; the others join those few rows.
LABEL_FILTERS = {
    "all": lambda qs, profile_id: qs,
    "unlabelled": lambda qs, profile_id: qs.unlabelled(profile_id),
    "labelled": lambda qs, profile_id: qs.labelled(profile_id),
    "liked": lambda qs, profile_id: qs.filter(current__verdict="like"),
    "disliked": lambda qs, profile_id: qs.filter(current__verdict="dislike"),
}


class BadFilter(ValueError):
    pass


@dataclass(frozen=True)
class Selection:
    """What company_listing selects: the companies (score loaded, unordered) and what lets
    BestFirst read a page of them off the score index instead of joining every company."""

    companies: CompanyQuerySet
    profile_id: int  # the profile whose scores and verdicts these are
    found: Found | None = None  # a search: its matches listed, or its query when too common
    score_scope: Q | None = None  # the same selection on the score table alone, where the filters allow
    walk_scope: Q | None = None  # the score side of a selection it cannot say alone: walked, checked by id
    count_at_least: int = 0  # known without counting (a common word)

    @property
    def matching_ids(self) -> list[int] | None:
        return self.found.ids if self.found else None

    @property
    def dense_search(self) -> SearchQuery | None:
        return self.found.dense if self.found else None


def company_listing(
    *,
    profile_id: int,
    show: str = "all",
    query: str = "",
    band: str = "",
    industry: str = "",
    country: str = "",
    import_job: str = "",
    owner: str = "",
    user=None,
    employees_min: str = "",
    employees_max: str = "",
    founded_min: str = "",
    founded_max: str = "",
    revenue_min: str = "",
    revenue_max: str = "",
) -> Selection:
    """The companies the filters select in the profile (a label filter, a score band, industry, country, the
    import that brought them, their owner: "me" (`user`), "none" or a username, ranges of
    employees, founding year and revenue (whole numbers, either end open), a search), with
    their score and owner loaded (unordered: `listing` orders them for the dashboard, the API
    and exports)."""
    if show not in LABEL_FILTERS:
        raise BadFilter(f"show must be one of: {', '.join(LABEL_FILTERS)} (got {show!r})")
    bounds = dict(
        zip(ranges.PARAMS, (employees_min, employees_max, founded_min, founded_max, revenue_min, revenue_max))
    )
    try:
        number_ranges = ranges.read_ranges(bounds)
    except ranges.BadRange as error:
        raise BadFilter(str(error)) from None
    companies = LABEL_FILTERS[show](Company.objects.in_profile(profile_id).select_related("owner"), profile_id)
    for found_range in number_ranges:
        companies = companies.filter(range_filter(found_range))
    if owner.strip():
        companies = companies.filter(owner=_owner(owner, user))
    if band:
        companies = companies.filter(band_filter(band, profile_id))
    if import_job:
        if (number := whole_number(import_job)) is None:
            raise BadFilter(f"import must be an import's number (got {import_job!r})")
        companies = companies.of_import(number)
    texts = {"industry": industry.strip(), "country": country.strip(), "query": query}
    if any("\x00" in text for text in texts.values()):  # Postgres text never holds NUL: no match, not a 500
        return Selection(companies.none(), profile_id)
    if texts["industry"]:
        companies = companies.filter(industry__iexact=texts["industry"])
    if texts["country"]:  # 'Germany', 'germany' and 'DE' find the companies stored as 'DE'
        companies = companies.in_country(texts["country"])
    found = companies.found_by(query)
    # The same selection of scored companies, on the score table alone, where the filters allow:
    # BestFirst reads a page of them off the score index without joining a million companies.
    # Where they do not (industry, country, import, owner, number ranges), the score side of the selection still lets
    # BestFirst walk the best scores and check those companies by id when many companies match.
    scope = Q() if show in ("all", "unlabelled") else Q(pk__in=[])  # a labelled company has no score
    if band:
        scope &= score_band_filter(band, profile_id)
    if found.ids is not None:
        scope &= Q(company_id__any_of=found.literal)
    if texts["industry"] or texts["country"] or import_job or owner.strip() or number_ranges:
        return Selection(found.companies, profile_id, found, walk_scope=scope)
    at_least = 0
    if found.dense and show in ("all", "unlabelled") and not band:
        # More matches than SEARCH_IDS_INLINE, of which at most the labelled ones left out.
        at_least = company_models.SEARCH_IDS_INLINE + 1 - Company.objects.labelled(profile_id).count()
    return Selection(found.companies, profile_id, found, score_scope=scope, count_at_least=at_least)


def range_filter(found: ranges.Range) -> Q:
    """A number range on its typed column (partial index: only companies that have the number)."""
    bounds = {"gte": found.low, "lte": found.high}
    return Q(**{f"{found.column}__{op}": value for op, value in bounds.items() if value is not None})


def filtered_import(import_job: str) -> ImportJob | None:
    """The import the dashboard's `import` filter names, to say which one is on (None: no such
    import, deleted since; company_listing has refused a value that is not a number)."""
    number = whole_number(import_job)
    return ImportJob.objects.filter(pk=number).first() if number is not None else None


def _owner(value: str, user):
    """The owner a filter names (None: unassigned), or BadFilter."""
    if user is None and value.strip().lower() == owner_selectors.ME:
        raise BadFilter("owner=me needs to know who you are: log in")
    try:
        return owner_selectors.owner_named(value, user=user)
    except owner_selectors.UnknownOwner as error:
        raise BadFilter(str(error)) from None


def band_filter(key: str, profile_id: int) -> Q:
    """The companies (read in the profile) whose score is in band `key` (bands.Distribution.band,
    asked of the database)."""
    return Q(score__isnull=False) & _band_values(key, "score__", profile_id)


def score_band_filter(key: str, profile_id: int) -> Q:
    """The same band on the score table (Score.objects.filter)."""
    return _band_values(key, "", profile_id)


def _band_values(key: str, prefix: str, profile_id: int) -> Q:
    """Each band as fit ranges (bands.Distribution.band: unexplored by its flag; strong and likely
    supported, positive and at least their cut-off, unlikely negative and at most its cut-off,
    unsure the rest), so that the fit index answers any of them; a negated range made Postgres
    read every score."""
    if key not in bands.BY_KEY:
        raise BadFilter(f"band must be one of: {', '.join(bands.BY_KEY)} (got {key!r})")
    if key == bands.UNEXPLORED.key:
        return Q(**{f"{prefix}unexplored": True})
    cut = score_distribution(profile_id).cutoffs()
    field = f"{prefix}fit"
    explored = Q(**{f"{prefix}unexplored": False})
    supported = Q(**{f"{prefix}supported": True})

    def at_least(value: float) -> Q:  # positive and at least `value`
        return Q(**{f"{field}__gte": value}) if value > 0 else Q(**{f"{field}__gt": 0})

    def below(value: float) -> Q:  # not at_least(value)
        return Q(**{f"{field}__lt": value}) if value > 0 else Q(**{f"{field}__lte": 0})

    def at_most(value: float) -> Q:  # negative and at most `value`
        return Q(**{f"{field}__lte": value}) if value < 0 else Q(**{f"{field}__lt": 0})

    def above(value: float) -> Q:  # not at_most(value)
        return Q(**{f"{field}__gt": value}) if value < 0 else Q(**{f"{field}__gte": 0})

    strong, likely = max(cut["strong"], cut["likely"]), cut["likely"]  # strong's cut-off is the higher
    bands_ = {
        "strong": supported & at_least(strong),
        "likely": supported & at_least(likely) & below(strong),
        "unlikely": at_most(cut["unlikely"]),
        "unsure": above(cut["unlikely"]) & (below(likely) | ~supported),
    }
    return explored & bands_[key]


class _Paged:
    """What the Paginator asks of a listing: its count (up to `count_limit`, the dashboard's cap)
    and slices [start:stop]; subclasses give `_count` and `_page`."""

    count_limit: int | None

    def count(self) -> int:
        """How many companies, or count_limit when there are at least that many."""
        return self._count

    @property
    def count_is_capped(self) -> bool:
        return self.count_limit is not None and self.count() >= self.count_limit

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key: slice) -> list[Company]:
        if not isinstance(key, slice) or key.stop is None or key.step is not None:
            raise TypeError(f"{type(self).__name__} takes slices [start:stop]")
        return self._page(key.start or 0, key.stop)


class BestFirst(_Paged):
    """Companies best fit first (ties by id), then those without a score (labelled, waiting for
    embedding, or nothing labelled yet) by name.

    Two queries that each follow an index, instead of one sort of every company by a column of
    an outer join: the first page of a million companies reads ~50 score index entries. The
    Paginator slices it; only the rows of a page get their embedding status, in one query."""

    def __init__(self, selection: Selection, *, count_limit: int | None = None, worst_first: bool = False):
        self.selection = selection
        companies = self.companies = selection.companies
        # Worst fit first walks the same index the other way: ties by id, the highest first.
        self.order = ("fit", "-company_id") if worst_first else ("-fit", "company_id")
        # A labelled company is never listed by its score: its row lives on until the rescore that
        # its verdict queued deletes it (~1 s), and the "liked" filter must list it meanwhile.
        self.scored = companies.filter(score__isnull=False, current__isnull=True).order_by(
            *(("score__fit", "-pk") if worst_first else ("-score__fit", "pk"))
        )
        if selection.matching_ids is not None:  # a search: the same ids on the score side (see found_by())
            self.scored = self.scored.filter(score__company__any_of=selection.found.literal)
        # The scored companies' ids in order, from the score table alone when the filters allow
        # (company_listing's score_scope): a search's page is then one walk of the score index
        # instead of a join and a sort of every match (docs/benchmarks.md, *Figures behind the design*).
        self.scored_ids = self._best(selection.score_scope)
        self.walk_ids = self._best(selection.walk_scope)
        self.unscored = orderings.by_name(companies.filter(Q(score__isnull=True) | Q(current__isnull=False)))
        # Counting every company on every page view is slow at a million: the dashboard counts up
        # to a limit (docs/benchmarks.md, *Figures behind the design*).
        self.count_limit = count_limit

    @functools.cached_property
    def scored_count(self) -> int:
        if self.scored_ids is None or self.selection.dense_search:
            return self.scored.count()
        return self.scored_ids.count()

    def _best(self, scope: Q | None):
        """The scores' company ids in order, from the score table, less the companies labelled
        since their pass ran (labelled_since): their score rows live on for ~1 s, and counted as
        places of the order they shifted the page or left it short (a 500 once, #26's check)."""
        if scope is None:
            return None
        scores = Score.objects.filter(scope, profile_id=self.selection.profile_id)
        if self.labelled_since:
            scores = scores.exclude(company_id__any_of=Ids(self.labelled_since))
        return scores.order_by(*self.order).values_list("company_id", flat=True)

    @functools.cached_property
    def labelled_since(self) -> list[int]:
        """The companies labelled since the pass that would drop their scores: pending a pass (its
        queue, written with the verdict) and labelled now. Usually none; one small read."""
        profile_id = self.selection.profile_id
        labelled = CurrentVerdict.objects.filter(profile_id=profile_id, company_id=OuterRef("company_id"))
        pending = PendingScoreChange.objects.filter(Exists(labelled), profile_id=profile_id)
        return sorted(pending.values_list("company_id", flat=True))

    def _scored_page(self, start: int, stop: int) -> tuple[list[Company], int]:
        """The page's scored companies, and how many places of the scored order it took: more than
        the companies when some were labelled since their pass ran (their score rows live on for
        ~1 s, and are left out here)."""
        if self.scored_ids is not None and self.selection.dense_search:
            ids = self._walk(start, stop, self.scored_ids, self.selection.found.matching)
        elif self.scored_ids is not None:
            ids = list(self.scored_ids[start:stop])
        elif self.walk_ids is not None and self.count_is_capped:  # many match: a short walk fills a page
            ids = self._walk(start, stop, self.walk_ids, self._selected)
        else:  # few companies match (or nobody counted): their join and sort is small
            rows = list(self.scored[start:stop])
            return rows, len(rows)
        found = self.companies.filter(pk__any_of=ids, current__isnull=True).in_bulk()
        return [found[pk] for pk in ids if pk in found], len(ids)

    def _selected(self, ids: list[int]) -> set[int]:
        return set(self.companies.filter(pk__any_of=ids).values_list("pk", flat=True))

    # A page of many matches (a common word, a big industry or country): the best scores in order,
    # a slice at a time, each slice's companies checked by id (`matching`), until `stop` match.
    # Exact: the scores are read in order. Checking a company costs more than reading its score
    # (docs/benchmarks.md, *Word search at a million companies*), so no company is checked twice
    # and few past the page's last match: the first slice is WALK_FIRST_ROWS per company wanted
    # (1,000 for the first page), each next one as many as the density so far says are missing,
    # at least a quarter and at most 1.5 times what was read before it (the best scores come in
    # clusters of near copies: the density of the first few hundred says little).
    WALK_FIRST_ROWS = 20
    WALK_GROWTH = (0.25, 1.5)

    def _walk(self, start: int, stop: int, best_first, matching) -> list[int]:
        found: list[int] = []
        checked, size = 0, max(1, int(self.WALK_FIRST_ROWS * stop))
        least, most = self.WALK_GROWTH
        while True:
            best = list(best_first[checked : checked + size])
            chosen = matching(best) if best else set()
            found += [pk for pk in best if pk in chosen]
            checked += len(best)
            if len(found) >= stop or len(best) < size:
                return found[start:stop]
            guess = (stop - len(found)) * checked / len(found) if found else most * checked
            size = int(min(most * checked, max(least * checked, guess, 1)))

    @functools.cached_property
    def _count(self) -> int:
        if self.count_limit is None:
            return self.scored_count + self.unscored.count()
        if self.count_limit <= self.selection.count_at_least:
            return self.count_limit  # known without counting (a common word: company_listing)
        # Any order will do for a count: Postgres stops at the limit, a few ms whatever N is.
        return self.companies.order_by()[: self.count_limit].count()

    def _page(self, start: int, stop: int) -> list[Company]:
        rows, places = self._scored_page(start, stop)
        if places < stop - start:  # past the scored companies: the count is small or needed
            # Where the unscored ones start in the order: counted in places, not companies, so a
            # company labelled a moment ago neither pulls an unscored one forward nor shifts a page.
            scored = start + places if places else self.scored_count
            rows += list(self.unscored[max(start - scored, 0) : max(stop - scored, 0)])
        return rows

    def iterator(self, chunk_size: int = 2000) -> Iterator[Company]:
        """Every company in order, streamed (exports)."""
        yield from self.scored.iterator(chunk_size=chunk_size)
        yield from self.unscored.iterator(chunk_size=chunk_size)


def embedded_ids(company_ids: list[int]) -> set[int]:
    """Which of the companies have a current vector, in one query."""
    vectors = CompanyEmbedding.objects.current(active.model_name()).filter(company_id__in=company_ids)
    return set(vectors.values_list("company_id", flat=True))


def best_first(*, count_limit: int | None = None, **filters: str) -> BestFirst:
    """The dashboard's, the API's and the export's order: `company_listing(**filters)`, best fit first."""
    return BestFirst(company_listing(**filters), count_limit=count_limit)


class Sorted(_Paged):
    """The companies `company_listing` selects in one of ORDERINGS' orders other than by fit: its
    parts one after the other (those with a value in order, then those without). The Paginator
    slices it; a part is counted only when a page starts past its end."""

    def __init__(self, selection: Selection, *, ordering: str, count_limit: int | None = None):
        self.companies = selection.companies
        self.parts = orderings.ORDERINGS[ordering].parts(self.companies)
        self.count_limit = count_limit

    @functools.cached_property
    def _count(self) -> int:
        if self.count_limit is None:
            return self.companies.count()
        return self.companies.order_by()[: self.count_limit].count()  # Postgres stops at the limit

    def _page(self, start: int, stop: int) -> list[Company]:
        rows: list[Company] = []
        offset = 0  # the companies in the parts before this one
        for part in self.parts:
            got = list(part[max(start - offset, 0) : stop - offset])
            rows += got
            if offset + max(start - offset, 0) + len(got) >= stop:
                break  # the page is full
            # This part ends before the page does: its size is known from what it gave, or counted.
            offset += max(start - offset, 0) + len(got) if got else part.count()
        return rows

    def iterator(self, chunk_size: int = 2000) -> Iterator[Company]:
        """Every company in order, streamed (exports)."""
        for part in self.parts:
            yield from part.iterator(chunk_size=chunk_size)


def listing(
    *, ordering: str = orderings.DEFAULT_ORDERING, count_limit: int | None = None, **filters: str
) -> BestFirst | Sorted:
    """The dashboard's, the API's and the export's companies in one of ORDERINGS (best fit first
    by default)."""
    if ordering not in orderings.ORDERINGS:
        raise BadFilter(f"ordering must be one of: {', '.join(orderings.ORDERINGS)} (got {ordering!r})")
    if orderings.ORDERINGS[ordering].parts is None:  # by fit: a walk of the score index, either way
        return BestFirst(company_listing(**filters), count_limit=count_limit, worst_first=ordering == "fit")
    return Sorted(company_listing(**filters), ordering=ordering, count_limit=count_limit)


def is_embedded(company: Company) -> bool:
    return Company.objects.filter(pk=company.pk).with_current_embedding(active.model_name()).exists()
