"""Which ideal-customer profile a page, a request or a command works in (read-side).

A request names its profile with `?profile=<id>` (links, forms and the API keep it, so a link opens
the same view); without one it works in the profile the user chose last, else the first one the
user may see. A team with one profile never sees the word: the chooser and the company page's
table of every profile appear only with a second active profile."""

from __future__ import annotations

from django.db.models import QuerySet

from leads.accounts import roles
from leads.core.params import whole_number
from leads.models import Profile, ProfileAccess, ProfileChoice

PARAM = "profile"


class UnknownProfile(ValueError):
    """A `?profile=` that names no profile this user may work in: the request is refused (400)."""


def first_id() -> int:
    """The first active profile (commands, tasks and exports without a --profile), the first one if all are archived."""
    first = Profile.objects.filter(archived_at__isnull=True).values_list("pk", flat=True).first()
    return first or Profile.first().pk  # none at all (a test's flush, a restore): the first, made


def named(value: str | None) -> int:
    """The profile a command's --profile names, by id or name (any case); None: the first active
    one. UnknownProfile, listing the profiles there are, for any other value."""
    if value is None:
        return first_id()
    text = str(value).strip()
    number = whole_number(text)
    found = Profile.objects.filter(pk=number) if number is not None else Profile.objects.filter(name__iexact=text)
    profile = found.first()
    if profile is None:
        names = ", ".join(f"{p.pk} ({p.name})" for p in Profile.objects.all()) or "none"
        raise UnknownProfile(f"--profile must name a profile by its id or name: {names} (got {value!r})")
    return profile.pk


PROFILE_OPTION_HELP = "the ideal-customer profile, by id or name (the first active one by default)"


def visible_to(user) -> QuerySet[Profile]:
    """The profiles `user` may work in: managers every one (archived ones read-only), a rep the
    active ones, only those ProfileAccess lists when it lists any."""
    profiles = Profile.objects.all()
    if user is None or not user.is_authenticated:
        return profiles.none()
    if user.has_perm(roles.SETTINGS):
        return profiles
    profiles = profiles.filter(archived_at__isnull=True)
    if ProfileAccess.objects.filter(user=user).exists():
        profiles = profiles.filter(access__user=user)
    return profiles


def current_id(request=None) -> int:
    """The profile `request` works in (see the module); the first active one without a request."""
    if request is None:
        return first_id()
    if getattr(request, "_profile_id", None) is None:
        request._profile_id = _resolve(request)
    return request._profile_id


def current(request) -> Profile:
    return Profile.objects.get(pk=current_id(request))


def _resolve(request) -> int:
    user = getattr(request, "user", None)
    visible = visible_to(user)
    given = request.GET.get(PARAM, _form(request).get(PARAM, "")) if hasattr(request, "GET") else ""
    if given.strip():
        number = whole_number(given)
        chosen = visible.filter(pk=number).first() if number is not None else None
        if chosen is None:
            names = ", ".join(f"{p.pk} ({p.name})" for p in visible) or "none"
            raise UnknownProfile(f"profile must be one of the profiles you may work in: {names} (got {given!r})")
        if not ProfileChoice.objects.filter(user=user, profile=chosen).exists():  # a write only on a change
            ProfileChoice.objects.update_or_create(user=user, defaults={"profile": chosen})
        return chosen.pk
    if user is not None and user.is_authenticated:
        last = ProfileChoice.objects.filter(user=user, profile__in=visible).values_list("profile_id", flat=True).first()
        if last is not None:
            return last
    active = visible.filter(archived_at__isnull=True).values_list("pk", flat=True).first()
    found = active or visible.values_list("pk", flat=True).first()
    if found is None and user is not None and user.is_authenticated and Profile.objects.exists():
        # Profiles, none this user may work in (a rep limited to archived ones): never another instead.
        raise UnknownProfile("your account may work in no active profile: ask a sales manager to open one to you")
    return found or first_id()


def _form(request) -> dict:
    """A browser form's fields (the profile a verdict form carries). Only an url-encoded body, which
    Django keeps: parsing a multipart one would use up the stream that an upload or the API's
    JSON reads after (a page says its profile in the URL there)."""
    kind = request.content_type if hasattr(request, "content_type") else ""
    return request.POST if kind == "application/x-www-form-urlencoded" else {}


def chooser(request) -> list[Profile]:
    """The profiles the chooser offers: none (no chooser) while the user sees one active profile."""
    visible = list(visible_to(getattr(request, "user", None)))
    return visible if sum(p.archived_at is None for p in visible) > 1 else []


def context(request) -> dict:
    """Template context: `profile_choices` (empty with one profile: nothing shows) and `current_profile_id`.
    Worked out once a request: a page renders its rows one template at a time (render_to_string)."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    if getattr(request, "_profile_context", None) is None:
        try:
            choices = chooser(request)
            found = {"profile_choices": choices, "current_profile_id": current_id(request) if choices else None}
        except UnknownProfile:
            found = {"profile_choices": [], "current_profile_id": None}
        request._profile_context = found
    return request._profile_context
