"""The admin company list's orders and pages: what keeps them fast at a million companies."""

import functools

from django.core.paginator import Paginator
from django.db.models import F, OrderBy

from leads.models import Company, CompanyQuerySet, Score
from leads.models.lookups import Ids


class CappedPaginator(Paginator):
    """Counts up to COUNT_LIMIT companies, not a million on every page view (the dashboard's rule)."""

    COUNT_LIMIT = 10_000

    @functools.cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.COUNT_LIMIT].count()


# The list's order unless a column is clicked: best fit first, ties by id as the score index holds
# them (profile, -fit, company), then the companies without a score (no score row: its company id
# null) newest first. As one ORDER BY it sorts every company (the fit is an outer join's column:
# seconds at a million); the changelist runs it for a list that fits on one page, FitFirst reads a
# page of a longer one off the indexes.
FIT_FIRST = [F("score__fit").desc(nulls_last=True), F("score__company_id").asc(), "-id"]


class FitFirst:
    """The companies in FIT_FIRST's order as the Paginator asks for them (a count, slices): the
    scored ones off the score index, then the others off the primary key, newest first (a fresh
    import, which has no score yet, is the first of them)."""

    # The best scores read per company of the page, at most, before the selection's own scores are
    # sorted instead: a filter few of the best companies pass (one waiting for embedding: a fresh
    # import) walked the whole index, a million probes, when Postgres walked it.
    WALK_PER_ROW = 20

    def __init__(self, companies: CompanyQuerySet, *, profile_id: int, count_limit: int):
        self.companies, self.profile_id, self.count_limit = companies.order_by(), profile_id, count_limit
        self.scored = self.companies.filter(score__isnull=False)
        self.unscored = self.companies.filter(score__isnull=True).order_by("-id")

    @functools.cached_property
    def _count(self) -> int:
        return self.companies[: self.count_limit].count()  # Postgres stops at the limit

    def count(self) -> int:
        """How many companies, or count_limit when there are at least that many."""
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key: slice) -> list[Company]:
        if not isinstance(key, slice) or key.stop is None or key.step is not None:
            raise TypeError(f"{type(self).__name__} takes slices [start:stop]")
        start, stop = key.start or 0, key.stop
        rows = self._scored(start, stop)
        if len(rows) < stop - start:  # past the scored companies: where they end, counted if need be
            scored = start + len(rows) if rows or not start else self.scored.count()
            rows += list(self.unscored[max(start - scored, 0) : stop - scored])
        return rows

    def _scored(self, start: int, stop: int) -> list[Company]:
        ids = self._walk(stop)
        if ids is None:  # few of the best scores are the list's: its own scores, sorted (FIT_FIRST's
            # nulls last matches no index, so Postgres does not walk every score instead)
            return list(self.scored.order_by(*FIT_FIRST)[start:stop])
        found = self.companies.filter(pk__any_of=Ids(ids[start:stop])).in_bulk()
        return [found[pk] for pk in ids[start:stop] if pk in found]

    def _walk(self, stop: int) -> list[int] | None:
        """The ids of the list's first `stop` scored companies (fewer: all of them): the profile's
        best scores in order, a slice at a time, each slice checked by id; None when the best
        WALK_PER_ROW * stop scores hold fewer than `stop` of the list's companies."""
        best = Score.objects.filter(profile_id=self.profile_id).order_by("-fit", "company_id")
        best_ids = best.values_list("company_id", flat=True)
        found: list[int] = []
        read, size = 0, 2 * stop
        while read < self.WALK_PER_ROW * stop:
            ids = list(best_ids[read : read + size])
            listed = set(self.companies.filter(pk__any_of=Ids(ids)).values_list("pk", flat=True)) if ids else set()
            found += [pk for pk in ids if pk in listed]
            read += len(ids)
            if len(found) >= stop or len(ids) < size:  # enough, or every score read
                return found
            size = min(2 * size, self.WALK_PER_ROW * stop - read)
        return None


class BlanksLast(F):
    """A column the changelist sorts with its blanks last either way, as the dashboard does
    (Postgres puts nulls first when descending). The changelist asks an expression for asc() or
    desc(); an OrderBy it would reverse, nulls_last turning into nulls_first."""

    def asc(self, **kwargs) -> OrderBy:
        return super().asc(nulls_last=True)

    def desc(self, **kwargs) -> OrderBy:
        return super().desc(nulls_last=True)
