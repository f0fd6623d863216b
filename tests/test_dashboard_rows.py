"""A dashboard row's cheap parts (leads/templatetags/rows.py): URLs by id equal to `{% url %}`, with
a script prefix too, and every row form carrying the page's CSRF token."""

from __future__ import annotations

import re

import pytest
from django.template import engines
from django.test import Client
from django.urls import get_script_prefix, reverse, set_script_prefix

from leads.models import FIRST_PROFILE_ID, Company
from leads.templatetags import rows
from tests.test_dashboard import dashboard_names

# --- URLs by id in the rows ------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/", "/leads/"])
@pytest.mark.parametrize("name", ["company-detail", "company-label", "company-owner"])
def test_a_url_by_id_is_what_url_gives(name, prefix):
    """The rows' `{% url_by_id %}` (leads/templatetags/rows.py) reverses a name once and puts
    each id in its place: the same URL as `{% url %}`, under any script prefix."""
    before = get_script_prefix()
    set_script_prefix(prefix)
    try:
        for pk in [1, 7, 98765, 2**62]:
            assert rows.url_by_id(name, pk) == reverse(name, args=[pk])
            assert reverse(name, args=[pk]).startswith(prefix)
        template = engines["django"].from_string(
            "{% load rows %}{% url_by_id '" + name + "' pk %} {% url_by_id '" + name + "' pk as u %}{{ u }}"
        )
        assert template.render({"pk": 42}) == f"{reverse(name, args=[42])} {reverse(name, args=[42])}"
        with pytest.raises(ValueError):
            rows.url_by_id(name, "12/../3")
    finally:
        set_script_prefix(before)


def test_every_form_of_the_rows_carries_the_pages_csrf_token(world, alice):
    """`{% csrf_field %}` (leads/templatetags/rows.py) renders the token once per page: each row's
    label and owner forms hold it, and a verdict posted with it from the row is taken."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.get("/")
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)
    rows = len(dashboard_names(response))
    assert rows >= 6 and response.text.count('class="label-buttons"') == rows
    assert len(tokens) >= response.text.count('class="label-buttons"') + response.text.count('class="owner-form"')
    assert len(set(tokens)) == 1  # as {% csrf_token %} gives it: one token per page
    bravo = world["Bravo Beers"]
    response = client.post(f"/companies/{bravo.pk}/label", {"verdict": "like", "csrfmiddlewaretoken": tokens[0]})
    assert response.status_code == 302
    bravo = Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=bravo.pk)
    assert bravo.verdict == "like"
