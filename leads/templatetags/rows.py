"""Tags for the app's templates: rows cheap to render (50 a page, each with two forms), and the profile a page shows:

- `{% url_by_id 'company-label' company.pk %}`: what `{% url %}` gives for a URL whose one
  argument is an integer id, without resolving the name again for every row. A dashboard row
  reverses three such URLs; `{% url %}` costs ~27 us each, a quarter of the time 50 rows take.
- `{% csrf_field %}`: `{% csrf_token %}`'s hidden field, rendered once per page and repeated in
  every form (the same token either way: one per page).
- `{% profile_field %}` and `{% profile_query %}`: the profile a page shows, carried by its forms and by the URLs its script asks.

docs/benchmarks.md, *Word search at a million companies*."""

from __future__ import annotations

import functools

from django import template
from django.conf import settings
from django.template.defaulttags import CsrfTokenNode
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.safestring import mark_safe

register = template.Library()

# Reversed once in place of the id, then replaced by each id: no id is this large (bigint tops out
# at 19 digits, and a path holds no other run of digits this long).
MARKER = 987_654_321_987_654_321


@functools.lru_cache(maxsize=64)
def _around(name: str, prefix: str, urlconf) -> tuple[str, str]:
    """The URL of `name` before and after its id, for this script prefix and URLconf."""
    before, marker, after = reverse(name, args=[MARKER], urlconf=urlconf).partition(str(MARKER))
    if not marker:
        raise ValueError(f"{name}'s URL does not hold its id as given")
    return before, after


@register.simple_tag
def url_by_id(name: str, pk) -> str:
    before, after = _around(name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    return f"{before}{int(pk)}{after}"


_CSRF_FIELD = object()  # its key among what one render of a page keeps


@register.simple_tag(takes_context=True)
def csrf_field(context) -> str:
    """`{% csrf_token %}`, rendered once per page (IncludeNode keeps its templates the same way)."""
    kept = context.render_context.dicts[0]
    if _CSRF_FIELD not in kept:
        kept[_CSRF_FIELD] = CsrfTokenNode().render(context)
    return kept[_CSRF_FIELD]


@register.simple_tag(takes_context=True)
def profile_field(context) -> str:
    """The hidden `profile` field every form that writes in a profile carries, so that its action
    applies to the profile its page shows, not to the one the user chose last in another tab
    (profiles.selectors: a form's own `profile` comes first). Nothing while the team has one profile."""
    profile_id = context.get("current_profile_id")
    return mark_safe(f'<input type="hidden" name="profile" value="{int(profile_id)}">') if profile_id else ""


@register.simple_tag(takes_context=True)
def profile_query(context) -> str:
    """`?profile=<id>` for a link or a URL a page's script asks (a company's page, the map's points,
    verdicts and undo): the profile the page shows, not the one chosen last in another tab.
    Nothing with one profile."""
    profile_id = context.get("current_profile_id")
    return f"?profile={int(profile_id)}" if profile_id else ""
