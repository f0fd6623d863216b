"""Choosing a profile on the pages (#28): nothing shows while a team has one; with two, `?profile=`
picks one (and is remembered), the dashboard, the company page and verdicts work in it, a profile
the rep may not work in is refused with the list of those there are, an archived one is hidden
from reps and refuses verdicts. Through Django's test client on the real database."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from django.utils.html import escape

from leads.accounts import roles
from leads.companies.distribution import band_of, score_distribution
from leads.models import FIRST_PROFILE_ID, Company, Label, Profile, ProfileAccess
from leads.savedviews import services as saved_views
from leads.scoring import labels

pytestmark = pytest.mark.django_db


def fit_cell(html: str, name: str) -> str:
    row = html.split(f">{name}<", 1)[1].split("</tr>", 1)[0]
    return re.search(r'<span class="score[^"]*"[^>]*>([^<]*)</span>', row).group(1)


def test_a_team_with_one_profile_sees_no_word_of_profiles(as_alice, world):
    for url in ("/", f"/companies/{world['Bravo Beers'].pk}/", "/label-next/", "/changes/"):
        assert "rofile" not in as_alice.get(url).content.decode(), url


def test_the_dashboard_and_the_company_page_work_in_the_chosen_profile(as_alice, world, two_profiles):
    bravo, copper = world["Bravo Beers"], world["Copper Stouts"]
    in_first = as_alice.get("/", {"profile": FIRST_PROFILE_ID}).content.decode()
    in_software = as_alice.get("/", {"profile": two_profiles.pk}).content.decode()
    assert 'name="profile"' in in_software and ">Software</option>" in in_software
    first_fit = Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=bravo.pk).score.signed_fit
    software_fit = Company.objects.in_profile(two_profiles.pk).get(pk=bravo.pk).score.signed_fit
    assert first_fit.startswith("+") and software_fit.startswith("-")  # brewing liked in one, disliked in the other
    assert fit_cell(in_first, "Bravo Beers") == first_fit and fit_cell(in_software, "Bravo Beers") == software_fit
    # The last choice is remembered: a page without ?profile= opens in it.
    assert fit_cell(as_alice.get("/").content.decode(), "Bravo Beers") == software_fit
    page = as_alice.get(f"/companies/{copper.pk}/", {"profile": two_profiles.pk}).content.decode()
    assert "In every profile" in page and "Ideal customers" in page and "Software" in page
    table = page.split('id="profiles"', 1)[1].split("</section>", 1)[0]
    for profile_id in (FIRST_PROFILE_ID, two_profiles.pk):  # each profile's evidence, worded as everywhere
        score = Company.objects.in_profile(profile_id).get(pk=copper.pk).score
        assert f"<td>{escape(score.evidence_words)}</td>" in table
    # A verdict given in a profile goes to that profile only.
    form = urlencode({"verdict": "like", "profile": FIRST_PROFILE_ID})  # as a browser posts the row's form
    response = as_alice.post(f"/companies/{copper.pk}/label", form, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302
    assert Label.objects.filter(company=copper).values_list("profile_id", flat=True).get() == FIRST_PROFILE_ID
    assert Company.objects.in_profile(two_profiles.pk).get(pk=copper.pk).verdict == ""


def test_a_profile_the_rep_may_not_work_in_is_refused_with_the_ones_there_are(as_alice, alice, world, two_profiles):
    response = as_alice.get("/", {"profile": "9999"})
    assert response.status_code == 400
    assert "1 (Ideal customers), " in response.content.decode() and "(Software)" in response.content.decode()
    assert as_alice.get("/api/companies/", {"profile": "x"}).status_code in (400, 401, 403)
    ProfileAccess.objects.create(user=alice, profile=two_profiles)
    assert as_alice.get("/", {"profile": FIRST_PROFILE_ID}).status_code == 400
    assert as_alice.get("/", {"profile": two_profiles.pk}).status_code == 200
    assert "rofile" not in as_alice.get("/").content.decode()  # one profile left to alice: no chooser


def test_an_archived_profile_is_hidden_from_reps_and_takes_no_verdict(as_alice, world, two_profiles):
    Profile.objects.filter(pk=two_profiles.pk).update(archived_at=timezone.now())
    assert as_alice.get("/", {"profile": two_profiles.pk}).status_code == 400
    assert "rofile" not in as_alice.get("/").content.decode()
    with pytest.raises(labels.ArchivedProfile):
        labels.label_company(
            profile_id=two_profiles.pk, company=world["Bravo Beers"], user=None, source="admin", verdict="like"
        )
    assert Label.objects.filter(profile_id=two_profiles.pk).count() == 2  # its labels kept


def test_the_admin_lists_companies_in_the_profile_chosen(client, world, two_profiles, django_user_model):
    manager = django_user_model.objects.create_user("manny", "m@example.com", "manny-password-1")
    manager.groups.add(Group.objects.get(name=roles.MANAGER))
    client.force_login(manager)
    bravo = world["Bravo Beers"]
    fits = {
        profile_id: Company.objects.in_profile(profile_id).get(pk=bravo.pk).score.signed_fit
        for profile_id in (FIRST_PROFILE_ID, two_profiles.pk)
    }
    for profile_id, fit in fits.items():
        page = client.get("/admin/leads/company/", {"profile": profile_id})
        assert page.status_code == 200
        row = page.content.decode().split(">Bravo Beers<", 1)[1].split("</tr>", 1)[0]
        assert fit in row, (profile_id, fit)
    assert "By profile" in client.get("/admin/leads/company/").content.decode()


def test_links_to_a_company_carry_the_profile_only_with_two(as_alice, world, two_profiles):
    page = as_alice.get("/", {"profile": two_profiles.pk}).content.decode()
    assert f'/companies/{world["Bravo Beers"].pk}/?profile={two_profiles.pk}"' in page
    Profile.objects.filter(pk=two_profiles.pk).update(archived_at=timezone.now())  # one left for alice
    page = as_alice.get("/").content.decode()
    assert f'/companies/{world["Bravo Beers"].pk}/"' in page and "?profile=" not in page


def test_saved_views_are_listed_in_the_profile_they_were_saved_in(as_alice, alice, world, two_profiles):
    services = saved_views
    services.save_view(name="Software strong", query=f"profile={two_profiles.pk}&band=strong", user=alice)
    services.save_view(name="Unlabelled", query="show=unlabelled", user=alice)  # saved with one profile
    assert [v.view.name for v in services.views_for(alice, profile_id=two_profiles.pk)] == [
        "Software strong",
        "Unlabelled",
    ]
    assert [v.view.name for v in services.views_for(alice, profile_id=FIRST_PROFILE_ID)] == ["Unlabelled"]
    assert "Software strong" not in as_alice.get("/", {"profile": FIRST_PROFILE_ID}).content.decode()
    assert "Software strong" in as_alice.get("/", {"profile": two_profiles.pk}).content.decode()


def test_the_dashboard_export_writes_the_chosen_profiles_fits_and_bands(as_alice, world, two_profiles):
    """The export (the dashboard's button, a CRM's shape too) works in the page's profile: it once
    wrote the first profile's bands and ranks whatever the page showed."""
    for profile_id in (FIRST_PROFILE_ID, two_profiles.pk):
        response = as_alice.get("/export.csv", {"profile": profile_id})
        assert response.status_code == 200
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
        exported = {row["name"]: row["fit"] for row in rows if row["fit"]}
        scored = Company.objects.in_profile(profile_id).filter(score__isnull=False)
        stored = {c.name: c.score.fit for c in scored}
        assert exported.keys() == stored.keys() and len(stored) > 2, profile_id
        assert all(float(exported[name]) == pytest.approx(fit, abs=1e-3) for name, fit in stored.items()), profile_id
        distribution = score_distribution(profile_id)  # the bands of this profile's fits, not the first's
        bands = {c.name: (band_of(c.score, distribution).label, distribution.rank_text(c.score.fit)) for c in scored}
        assert {row["name"]: (row["band"], row["rank"]) for row in rows if row["fit"]} == bands, profile_id
        assert exported["Bravo Beers"].startswith("-" if profile_id == two_profiles.pk else ""), profile_id
