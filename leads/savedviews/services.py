"""Saved views: save the dashboard's current filters, search and order under a name, open one (a
link anyone on the team can follow), and count the companies added to each since a user last
opened it. The one way in for every write to SavedView and SavedViewVisit."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from leads.companies import orderings, ranges, selectors
from leads.core.params import whole_number
from leads.models import SavedView, SavedViewVisit
from leads.profiles import selectors as profiles

# The dashboard's filters a view keeps (views.FILTERS), each as the dashboard's parameter.
# The profile too: a view saved in a profile is that profile's (with one profile the page has no `profile=`).
KEPT = ("profile", "show", "band", "owner", "industry", "country", "import", "q", "ordering", *ranges.PARAMS)
# New companies are counted up to this many ("100+"): one short index range scan per view.
NEW_COUNT_LIMIT = 100
NAME_MAX_CHARS = 100


class BadView(ValueError):
    pass


def view_query(query: str) -> str:
    """A dashboard URL query reduced to the filters a view keeps, in one order: the query a saved
    view of this page has (the dashboard marks the view it shows; it has checked its filters)."""
    kept = {key: value for key, value in parse_qsl(query) if key in KEPT and value}
    return urlencode([(key, kept[key]) for key in KEPT if key in kept])


def clean_query(query: str, *, user=None) -> str:
    """view_query, checked: BadView for a NUL, BadFilter's message when the dashboard would refuse it."""
    cleaned = view_query(query)
    if "\x00" in query or any("\x00" in value for _, value in parse_qsl(query)):
        raise BadView("The view holds a NUL character.")
    _listing(
        dict(parse_qsl(cleaned)), user
    )  # raises BadFilter as the dashboard would (runs the search: saving is rare)
    return cleaned


def valid_query(query: str, *, user=None) -> str:
    """clean_query, or "" for a query the dashboard refuses (back to every company)."""
    try:
        return clean_query(query, user=user)
    except (BadView, selectors.BadFilter):
        return ""


def _listing(filters: dict[str, str], user):
    ordering = filters.get("ordering", orderings.DEFAULT_ORDERING)
    given = filters.get("profile", "")
    number = whole_number(given)
    profile_id = number if number is not None else profiles.current_id()
    return selectors.listing(ordering=ordering, **_listing_filters(filters, profile_id, user))


def _listing_filters(filters: dict[str, str], profile_id: int, user) -> dict:
    """company_listing's arguments from the dashboard's parameters, in the profile, for `user`
    ("owner=me", "My companies", is the companies of whoever opens the view)."""
    return {
        "profile_id": profile_id, "owner": filters.get("owner", ""), "user": user,
        "show": filters.get("show", "all"), "query": filters.get("q", ""), "band": filters.get("band", ""),
        "industry": filters.get("industry", ""), "country": filters.get("country", ""),
        "import_job": filters.get("import", ""), **{name: filters.get(name, "") for name in ranges.PARAMS},
    }  # fmt: skip


def save_view(*, name: str, query: str, user) -> SavedView:
    """Save the dashboard's view `query` as `name` (unique in the team, case aside)."""
    name = " ".join(name.split())
    if not name:
        raise BadView("Give the view a name.")
    if len(name) > NAME_MAX_CHARS:
        raise BadView(f"A view's name is at most {NAME_MAX_CHARS} characters (got {len(name)}).")
    try:
        query = clean_query(query, user=user)
    except selectors.BadFilter as error:
        raise BadView(str(error)) from None
    try:
        with transaction.atomic():
            view = SavedView.objects.create(name=name, query=query, owner=user)
            SavedViewVisit.objects.create(view=view, user=user, visited_at=timezone.now())
    except IntegrityError:
        raise BadView(f"A view named “{name}” exists already: choose another name.") from None
    return view


def delete_view(*, view: SavedView, user) -> None:
    """Delete a view: its owner, or a manager (who may change what reps see)."""
    if view.owner_id != user.pk and not user.has_perm("leads.change_company"):
        raise PermissionError(f"Only {view.owner or 'its owner'} or a sales manager may delete “{view.name}”.")
    view.delete()


def open_view(*, view: SavedView, user) -> str:
    """Record that `user` opened `view` now (its new companies start again from here); its query."""
    SavedViewVisit.objects.update_or_create(view=view, user=user, defaults={"visited_at": timezone.now()})
    return view.query


@dataclass(frozen=True)
class ListedView:
    view: SavedView
    new: int  # companies added since the user last opened it, up to NEW_COUNT_LIMIT
    new_is_capped: bool


def views_for(user, *, profile_id: int) -> list[ListedView]:
    """The saved views of the profile, by name: those saved in it (their `profile=`) and those
    that name none, each with the companies new in it since `user` last opened it (since it was
    made, for a view they never opened), read in the profile."""
    views = list(SavedView.objects.select_related("owner").order_by(Lower("name"), "pk"))
    visits = dict(SavedViewVisit.objects.filter(user=user).values_list("view_id", "visited_at"))
    listed = []
    for view in views:
        params = dict(parse_qsl(view.query))
        if params.get("profile", str(profile_id)) != str(profile_id):
            continue  # another profile's view
        since = visits.get(view.pk, view.created_at)
        try:
            filters = _listing_filters(params, profile_id, user)
            companies = selectors.company_listing(**filters).companies
        except selectors.BadFilter:  # a band or import that no longer exists: nothing is new
            listed.append(ListedView(view, 0, False))
            continue
        new = companies.filter(created_at__gt=since).order_by()[:NEW_COUNT_LIMIT].count()
        listed.append(ListedView(view, new, new >= NEW_COUNT_LIMIT))
    return listed
