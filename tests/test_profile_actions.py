"""Every action applies to the profile its page shows (#28, found by an exploratory run): a form or a
script request carries the page's profile, so a second tab that chose another profile changes
nothing; a verdict into an archived profile, whichever action sends it, is refused with its
sentence, never a 500; a rep left with no active profile gets none instead of the first; saved
views keep the owner filter and the profile the page showed; profile names are one in any case;
a parameter of non-ASCII digits is refused like any other non-number. Through Django's test
client on the real database."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from leads.accounts import roles
from leads.models import (
    FIRST_PROFILE_ID,
    CurrentVerdict,
    ImportJob,
    OutcomeSettings,
    Profile,
    ProfileAccess,
    SavedView,
)  # fmt: skip
from tests.import_helpers import uploaded_job

pytestmark = pytest.mark.django_db


def verdict(profile_id: int, company) -> str | None:
    found = CurrentVerdict.objects.filter(profile_id=profile_id, company=company).first()
    return found.verdict if found else None


@pytest.fixture
def as_manager(client, bob):
    bob.groups.set([Group.objects.get(name=roles.MANAGER)])
    client.force_login(bob)
    return client


def form_post(client, url: str, data: dict, **extra):
    """A form as a browser sends it (url-encoded, where the page's profile field is read)."""
    return client.post(url, urlencode(data, doseq=True), content_type="application/x-www-form-urlencoded", **extra)


def other_tab_chooses(client, profile_id: int) -> None:
    """What a second tab does: open a page in another profile, which becomes the remembered one."""
    assert client.get("/", {"profile": profile_id}).status_code == 200


def test_the_review_pages_forms_act_in_the_profile_the_page_shows(as_manager, world, two_profiles):
    page = as_manager.get("/review/", {"profile": two_profiles.pk}).content.decode()
    forms = [form.split("</form>", 1)[0] for form in page.split('<form method="post" action="/review/')[1:]]
    assert forms and all(f'<input type="hidden" name="profile" value="{two_profiles.pk}">' in form for form in forms)
    other_tab_chooses(as_manager, FIRST_PROFILE_ID)
    bravo = world["Bravo Beers"]
    form = {"verdict": "like", "section": "far", "profile": two_profiles.pk}
    response = form_post(as_manager, f"/review/companies/{bravo.pk}/label", form)
    assert response.status_code == 302
    assert verdict(two_profiles.pk, bravo) == "like" and verdict(FIRST_PROFILE_ID, bravo) is None


def test_the_maps_requests_and_label_nexts_undo_carry_the_page_s_profile(as_manager, world, two_profiles):
    page = as_manager.get("/map/", {"profile": two_profiles.pk}).content.decode()
    for name in ("points", "label", "undo"):
        assert f'data-{name}-url="/map/{name}{".json" if name == "points" else ""}?profile={two_profiles.pk}"' in page
    other_tab_chooses(as_manager, FIRST_PROFILE_ID)
    copper = world["Copper Stouts"]
    response = as_manager.post(
        f"/map/label?profile={two_profiles.pk}", json.dumps({"ids": [copper.pk], "verdict": "dislike"}),
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 200
    assert verdict(two_profiles.pk, copper) == "dislike" and verdict(FIRST_PROFILE_ID, copper) is None
    label_next = as_manager.get("/label-next/", {"profile": two_profiles.pk}).content.decode()
    undo_form = label_next.split('id="undo-form"', 1)[1].split("</form>", 1)[0]
    assert f'name="profile" value="{two_profiles.pk}"' in undo_form


def test_the_outcomes_setting_changes_the_profile_the_page_shows(as_manager, world, two_profiles):
    page = as_manager.get("/outcomes/", {"profile": two_profiles.pk}).content.decode()
    setting = page.split('action="/outcomes/setting"', 1)[1].split("</form>", 1)[0]
    assert f'name="profile" value="{two_profiles.pk}"' in setting
    other_tab_chooses(as_manager, FIRST_PROFILE_ID)
    form_post(as_manager, "/outcomes/setting", {"count": "on", "profile": two_profiles.pk})
    counts = dict(OutcomeSettings.objects.values_list("profile_id", "count_as_verdicts"))
    assert counts.get(two_profiles.pk) is True and counts.get(FIRST_PROFILE_ID) in (None, False)


def test_a_verdict_into_an_archived_profile_is_refused_by_every_action_never_a_500(as_manager, world, two_profiles):
    bravo, copper = world["Bravo Beers"], world["Copper Stouts"]
    form_post(as_manager, f"/companies/{copper.pk}/label", {"verdict": "like", "profile": two_profiles.pk})
    Profile.objects.filter(pk=two_profiles.pk).update(archived_at=timezone.now())
    archived = "The profile &#x27;Software&#x27; is archived: it takes no verdicts"
    back = {"HTTP_REFERER": f"http://testserver/?profile={two_profiles.pk}"}
    bulk = form_post(
        as_manager, "/companies/bulk", {"ids": [bravo.pk], "action": "like", "profile": two_profiles.pk}, **back
    )
    assert bulk.status_code == 302 and bulk["Location"] == back["HTTP_REFERER"]
    assert archived in as_manager.get(bulk["Location"]).content.decode()
    undo = form_post(as_manager, "/labels/undo", {"profile": two_profiles.pk}, HTTP_HX_REQUEST="true")
    assert undo.status_code == 400 and "is archived: it takes no verdicts" in undo.content.decode()
    admin = form_post(
        as_manager,
        f"/admin/leads/company/?profile={two_profiles.pk}",
        {"action": "mark_like", "_selected_action": [bravo.pk], "profile": two_profiles.pk},
        HTTP_REFERER=f"http://testserver/admin/leads/company/?profile={two_profiles.pk}",
    )
    assert admin.status_code == 302
    setting = form_post(as_manager, "/outcomes/setting", {"count": "on", "profile": two_profiles.pk}, **back)
    assert setting.status_code == 302
    api = as_manager.post(
        f"/api/companies/{bravo.pk}/label?profile={two_profiles.pk}", json.dumps({"verdict": "like"}),
        content_type="application/json",
    )  # fmt: skip
    assert api.status_code == 400 and "is archived" in api.json()["error"]
    assert verdict(two_profiles.pk, bravo) is None and verdict(two_profiles.pk, copper) == "like"


def test_a_rep_left_with_no_active_profile_works_in_none_not_the_first(client, alice, world, two_profiles):
    ProfileAccess.objects.create(user=alice, profile=two_profiles)
    Profile.objects.filter(pk=two_profiles.pk).update(archived_at=timezone.now())
    client.force_login(alice)
    page = client.get("/")
    assert page.status_code == 400 and "may work in no active profile" in page.content.decode()
    api = client.post(
        f"/api/companies/{world['Bravo Beers'].pk}/label", json.dumps({"verdict": "like"}),
        content_type="application/json",
    )  # fmt: skip
    assert api.status_code == 400 and "may work in no active profile" in api.json()["error"]
    assert verdict(FIRST_PROFILE_ID, world["Bravo Beers"]) is None


def test_a_saved_view_keeps_the_owner_filter_and_the_profile_its_page_showed(as_alice, alice, world, two_profiles):
    other_tab_chooses(as_alice, two_profiles.pk)  # the page shows Software; its address names no profile
    response = form_post(
        as_alice, "/views/", {"name": "Mine, A to Z", "query": "owner=me&ordering=name", "profile": two_profiles.pk}
    )
    view = SavedView.objects.get()
    assert response.status_code == 302
    assert view.query == f"profile={two_profiles.pk}&owner=me&ordering=name"
    opened = as_alice.get(f"/views/{view.pk}/")
    assert "owner=me" in opened["Location"] and f"profile={two_profiles.pk}" in opened["Location"]


def test_two_profiles_may_not_differ_only_in_case(as_manager, two_profiles):
    page = as_manager.post("/admin/leads/profile/add/", {"name": "SOFTWARE", **inline_management()})
    assert page.status_code == 200  # the form again, with the reason
    assert "A profile has this name already (in another case): choose another name." in page.content.decode()
    assert Profile.objects.filter(name__iexact="software").count() == 1


def inline_management() -> dict:
    return {"access-TOTAL_FORMS": "0", "access-INITIAL_FORMS": "0", "access-MIN_NUM_FORMS": "0",
            "access-MAX_NUM_FORMS": "1000"}  # fmt: skip


@pytest.mark.parametrize(
    "url", ["/?profile=²", "/?profile=٣", "/api/profiles/?profile=²", "/?import=²", f"/?profile={'9' * 40}"]
)
def test_a_parameter_of_other_digits_is_refused_like_any_non_number(as_manager, world, two_profiles, url):
    response = as_manager.get(url)
    assert response.status_code == 400, response.content[:200]


def test_a_webhooks_profile_that_names_none_is_refused(as_manager, two_profiles):
    form = {"url": "https://93.184.216.34/leads", "events": ["company.labelled"], "profiles": ["abc"]}
    page = as_manager.post("/webhooks/", form)
    assert page.status_code == 400 and "unknown profile &#x27;abc&#x27;" in page.content.decode()


def test_an_import_while_working_in_an_archived_profile_asks_where_its_labels_go(as_manager, world, two_profiles):
    other_tab_chooses(as_manager, two_profiles.pk)
    Profile.objects.filter(pk=two_profiles.pk).update(archived_at=timezone.now())
    job = uploaded_job(as_manager, "name,description,label\nZulu Foods,Frozen fish,like\n")
    preview = as_manager.get(f"/imports/{job.pk}/").content.decode()
    assert '<option value="" selected disabled>Choose one: “Software”, where you work, is archived</option>' in preview
    mapping = {f"column-{i}": target for i, target in job.column_mapping().items()}
    refused = form_post(as_manager, f"/imports/{job.pk}/", mapping)  # the placeholder sends no profile
    assert refused.status_code == 400 and "is archived and takes no verdicts: choose an active profile" in (
        refused.content.decode().replace("&#x27;", "'")
    )
    job.refresh_from_db()
    assert job.state == ImportJob.State.PENDING
    taken = form_post(as_manager, f"/imports/{job.pk}/", {**mapping, "profile": FIRST_PROFILE_ID})
    assert taken.status_code == 302
    job.refresh_from_db()
    assert job.state != ImportJob.State.PENDING and job.profile_id == FIRST_PROFILE_ID


def test_an_import_with_two_active_profiles_offers_both_with_the_page_s_chosen(as_manager, world, two_profiles):
    other_tab_chooses(as_manager, two_profiles.pk)
    job = uploaded_job(as_manager, "name,description,label\nZulu Foods,Frozen fish,like\n")
    choice = (
        as_manager.get(f"/imports/{job.pk}/").content.decode().split('id="import-profile"', 1)[1].split("</select>")[0]
    )
    assert f'<option value="{FIRST_PROFILE_ID}">Ideal customers</option>' in choice
    assert f'<option value="{two_profiles.pk}" selected>Software</option>' in choice and "disabled" not in choice
