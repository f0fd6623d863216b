"""The admin company list's orders and pages: what keeps them fast at a million companies."""

import functools

from django.core.paginator import Paginator
from django.db.models import F, OrderBy


class CappedPaginator(Paginator):
    """Counts up to COUNT_LIMIT companies, not a million on every page view (the dashboard's rule)."""

    COUNT_LIMIT = 10_000

    @functools.cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.COUNT_LIMIT].count()


class BlanksLast(F):
    """A column the changelist sorts with its blanks last either way, as the dashboard does
    (Postgres puts nulls first when descending). The changelist asks an expression for asc() or
    desc(); an OrderBy it would reverse, nulls_last turning into nulls_first."""

    def asc(self, **kwargs) -> OrderBy:
        return super().asc(nulls_last=True)

    def desc(self, **kwargs) -> OrderBy:
        return super().desc(nulls_last=True)
