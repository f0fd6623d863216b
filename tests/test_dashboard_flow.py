"""The dashboard's labelling flow through Django's test client: a verdict answers with its row
(htmx), undo, the change log behind "37 scores changed", filters in the URL, bands, disagreements."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from leads.companies import disagreements
from leads.companies import distribution as fit_distribution
from leads.models import FIRST_PROFILE_ID, Company, Label, Score, ScoreChange
from leads.models.scores import signed
from leads.scoring import labels
from leads.scoring import services as scores
from leads.scoring.bands import Distribution
from tests.web_helpers import table_row

HTMX = {"HTTP_HX_REQUEST": "true"}


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_a_verdict_from_the_dashboard_answers_with_its_row_and_a_note(as_alice, world):
    bravo = world["Bravo Beers"]
    response = as_alice.post(f"/companies/{bravo.pk}/label", {"verdict": "like"}, **HTMX)
    assert response.status_code == 200
    page = text(response)
    assert page.lstrip().startswith(f'<tr id="company-{bravo.pk}"')  # one row, not a page
    assert '<span class="badge like">Liked</span>' in page
    assert 'hx-swap-oob="true"' in page and "Bravo Beers: liked. Scores update in a moment." in page
    assert "<html" not in page
    assert '"labelled"' in response["HX-Trigger"]
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=bravo.pk).verdict == "like"


def test_without_htmx_a_verdict_still_works_as_a_form(as_alice, world):
    bravo = world["Bravo Beers"]
    response = as_alice.post(f"/companies/{bravo.pk}/label", {"verdict": "dislike", "next": "/?show=unlabelled"})
    assert response.status_code == 302 and response["Location"] == "/?show=unlabelled"


def test_undo_takes_back_the_last_verdicts_one_by_one(as_alice, world):
    bravo, copper = world["Bravo Beers"], world["Copper Stouts"]
    as_alice.post(f"/companies/{bravo.pk}/label", {"verdict": "like"}, **HTMX)
    as_alice.post(f"/companies/{bravo.pk}/label", {"verdict": "dislike"}, **HTMX)
    as_alice.post(f"/companies/{copper.pk}/label", {"verdict": "like"}, **HTMX)

    first = as_alice.post("/labels/undo", **HTMX)
    assert f'<tr id="company-{copper.pk}"' in text(first)
    assert "Undone: Copper Stouts has no label again." in text(first)
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=copper.pk).verdict == ""
    as_alice.post("/labels/undo", **HTMX)
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=bravo.pk).verdict == "like"  # back to before the dislike
    as_alice.post("/labels/undo", **HTMX)
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=bravo.pk).verdict == ""
    # Alice's own earlier verdict in the world fixture (Alpha liked) is next, then nothing.
    as_alice.post("/labels/undo", **HTMX)
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=world["Alpha Brewing"].pk).verdict == ""
    assert "Nothing to undo." in text(as_alice.post("/labels/undo", **HTMX))
    # Every step is in the history: nothing is lost.
    assert Label.objects.filter(company=bravo).count() == 4


def test_undo_never_overrides_a_verdict_someone_gave_since(client, world, alice, bob):
    client.force_login(bob)
    delta = world["Delta Code"]  # disliked by bob in the fixture
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=delta, user=alice, verdict="like", source="click")
    response = client.post("/labels/undo", **HTMX)  # bob's last verdict: his dislike, since overridden
    assert "Your last verdict, on Delta Code, was changed since by alice: theirs stands." in text(response)
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=delta.pk).verdict == "like"  # alice's verdict stands
    assert "Nothing to undo." in text(client.post("/labels/undo", **HTMX))  # bob gave no verdict before it


def test_undo_moves_past_a_verdict_someone_overrode_to_the_one_before(client, world, alice, bob):
    """Bob likes Echo, then Foxtrot; Alice dislikes Foxtrot. Bob's undo says Foxtrot's verdict is
    Alice's now, and the next one takes back his like of Echo (it stuck on "Nothing to undo")."""
    client.force_login(bob)
    echo, foxtrot = world["Echo Review"], world["Foxtrot Fashion"]
    for company in (echo, foxtrot):
        client.post(f"/companies/{company.pk}/label", {"verdict": "like"}, **HTMX)
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=foxtrot, user=alice, verdict="dislike", source="click")
    first = text(client.post("/labels/undo", **HTMX))
    assert "Your last verdict, on Foxtrot Fashion, was changed since by alice: theirs stands." in first
    assert "Undone: Echo Review has no label again." in text(client.post("/labels/undo", **HTMX))
    verdicts = Company.objects.in_profile(FIRST_PROFILE_ID)
    assert (verdicts.get(pk=echo.pk).verdict, verdicts.get(pk=foxtrot.pk).verdict) == ("", "dislike")


def verdicts_of(world, *names: str) -> list[str]:
    current = Company.objects.in_profile(FIRST_PROFILE_ID)
    return [current.get(pk=world[name].pk).verdict for name in names]


def test_undo_after_a_bulk_verdict_takes_all_of_it_back(as_alice, world):
    """Alice ticks three rows (one of them bob's dislike) and likes them; one undo gives each its
    verdict from before, and the next takes back her like of Alpha before the bulk verdict (not the
    undo's own labels, nor the bulk's again)."""
    picked = ["Bravo Beers", "Copper Stouts", "Delta Code"]
    ids = [world[name].pk for name in picked]
    as_alice.post("/companies/bulk", {"action": "like", "ids": ids})
    assert verdicts_of(world, *picked) == ["like", "like", "like"]
    batches = set(Label.objects.filter(company_id__in=ids, verdict="like").values_list("batch", flat=True))
    assert len(batches) == 1 and None not in batches  # one batch for the three

    response = as_alice.post("/labels/undo", **HTMX)
    assert response.status_code == 204 and response["HX-Refresh"] == "true"  # many rows: the page loads again
    assert verdicts_of(world, *picked) == ["", "", "dislike"]
    page = text(as_alice.get("/"))
    assert "Undone: 3 companies got back the verdicts they had before. Scores update in a moment." in page
    assert "data-watch-since=" in page  # the reloaded page watches the undo's rescore

    as_alice.post("/labels/undo", **HTMX)  # then her single like of Alpha, before the bulk
    assert verdicts_of(world, "Alpha Brewing", *picked) == ["", "", "", "dislike"]
    assert "Nothing to undo." in text(as_alice.post("/labels/undo", **HTMX))


def test_undo_of_a_bulk_verdict_leaves_what_others_gave_since(as_alice, world, bob):
    picked = ["Bravo Beers", "Copper Stouts", "Echo Review"]
    as_alice.post("/companies/bulk", {"action": "dislike", "ids": [world[name].pk for name in picked]})
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=world["Copper Stouts"], user=bob, verdict="like", source="click"
    )
    as_alice.post("/labels/undo", {"next": "/?show=unlabelled"})  # without JavaScript: a form, back to the page
    assert verdicts_of(world, *picked) == ["", "like", ""]
    page = text(as_alice.get("/?show=unlabelled"))
    assert (
        "Undone: 2 companies got back the verdicts they had before. 1 company labelled since by bob keeps its verdict."
        in page
    )


def test_undo_of_a_bulk_verdict_everyone_changed_since_says_so_and_moves_on(as_alice, world, bob):
    picked = ["Bravo Beers", "Copper Stouts"]
    as_alice.post("/companies/bulk", {"action": "like", "ids": [world[name].pk for name in picked]})
    for name in picked:
        labels.label_company(
            profile_id=FIRST_PROFILE_ID, company=world[name], user=bob, verdict="dislike", source="click"
        )
    as_alice.post("/labels/undo", **HTMX)
    assert verdicts_of(world, *picked) == ["dislike", "dislike"]  # bob's stand
    page = text(as_alice.get("/"))
    assert "Your last verdicts, on 2 companies, were changed since by bob: theirs stand." in page
    as_alice.post("/labels/undo", **HTMX)  # the one before: her like of Alpha
    assert verdicts_of(world, "Alpha Brewing") == [""]


def test_after_many_verdicts_at_once_the_poll_and_the_changes_page_say_every_score_was_recomputed(
    as_alice, world, alice, monkeypatch
):
    since = timezone.now()  # after the fixture's own full rescore
    quiet = as_alice.get("/scores/changes", {"since": since.isoformat()}).json()
    assert quiet["recomputed"] is False and quiet["changed_words"] == "no score changed"
    monkeypatch.setattr(scores, "MAX_INCREMENTAL_CHANGES", 1)  # two verdicts: more than a pass takes one by one
    labels.label_companies(
        profile_id=FIRST_PROFILE_ID,
        verdicts=[(world["Copper Stouts"].pk, "like"), (world["Echo Review"].pk, "dislike")],
        user=alice,
        source="click",
    )
    scores.apply_label_changes(FIRST_PROFILE_ID, inline_full=True)
    assert not ScoreChange.objects.exists()  # a full rescore logs no change one by one
    state = as_alice.get("/scores/changes", {"since": since.isoformat()}).json()
    # Not "no score changed": every score was rewritten.
    assert state["done"] is True and state["recomputed"] is True
    assert state["changed_words"] == "every score recomputed"
    page = text(as_alice.get(state["link"]))
    assert "Every score was recomputed since then: a full rescore (more than 1 verdicts" in page
    assert "No score has changed since then." not in page
    later = as_alice.get("/scores/changes", {"since": timezone.now().isoformat()}).json()
    assert later["recomputed"] is False  # asked from after it: nothing since


def test_a_verdict_given_alone_has_no_batch(world):
    assert not Label.objects.filter(batch__isnull=False).exists()  # the fixture's two single verdicts


def test_an_incremental_rescore_logs_what_changed_and_why(as_alice, world):
    since = timezone.now()  # the verdict's time, as the dashboard sends it: after the fixture's full rescore
    before = dict(Score.objects.values_list("company_id", "fit"))
    echo = world["Echo Review"]
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=echo, user=None, verdict="like", source="click")
    scores.apply_label_changes(FIRST_PROFILE_ID)
    after = dict(Score.objects.values_list("company_id", "fit"))
    logged = {c.company_id: (c.old_fit, c.new_fit, c.causes) for c in ScoreChange.objects.all()}
    # A move too small to see on the page (fits show two decimals) is not logged.
    moved = {
        i
        for i in before.keys() | after.keys()
        if (before.get(i) is None) != (after.get(i) is None)
        or (i in before and i in after and signed(before[i]) != signed(after[i]))
    }
    assert set(logged) == moved and echo.pk in logged
    assert logged[echo.pk] == (before[echo.pk], None, [echo.pk])  # labelled now: no score of its own
    for company_id in moved - {echo.pk}:
        assert logged[company_id] == (before.get(company_id), after.get(company_id), [echo.pk])

    ids = ",".join(str(i) for i in moved)
    state = as_alice.get("/scores/changes", {"since": since.isoformat(), "ids": ids}).json()
    assert state["done"] is True and state["changed"] == len(moved)
    assert state["changed_words"] == f"{len(moved)} score{'' if len(moved) == 1 else 's'} changed"  # what the notes say
    for company_id in moved - {echo.pk}:
        assert f">{Score.objects.get(company_id=company_id).signed_fit}</span>" in state["cells"][str(company_id)]
    page = text(as_alice.get(state["link"]))
    assert "Echo Review</a> (liked)" in page
    for company_id in moved - {echo.pk}:
        assert Company.objects.get(pk=company_id).name in page


def test_the_poll_gives_every_row_its_cell_and_a_row_labelled_elsewhere_its_verdict(as_alice, world, bob):
    """After a verdict the page asks for its rows: every row's score cell, fresh (a rank or band
    moves without its fit moving), and the verdict and buttons of a row another rep labelled or
    cleared meanwhile (its row went on saying the old verdict beside the new score)."""
    since = timezone.now() - timedelta(seconds=1)
    bravo, copper, delta = world["Bravo Beers"], world["Copper Stouts"], world["Delta Code"]
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=bravo, user=bob, verdict="like", source="click")
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=delta, user=bob, verdict="clear", source="click")
    scores.apply_label_changes(FIRST_PROFILE_ID)
    on_page = [bravo, copper, delta, world["Foxtrot Fashion"]]
    ids = ",".join(str(c.pk) for c in on_page)
    shown = ",".join(["", "", "dislike", ""])  # what the page showed before bob's verdicts
    asked = {"since": since.isoformat(), "ids": ids, "shown": shown}
    state = as_alice.get("/scores/changes", asked, HTTP_REFERER="http://testserver/?q=beer").json()
    assert set(state["cells"]) == {str(c.pk) for c in on_page}  # moved or not
    foxtrot_cell = state["cells"][str(world["Foxtrot Fashion"].pk)]
    assert f">{Score.objects.get(company=world['Foxtrot Fashion']).signed_fit}</span>" in foxtrot_cell
    assert set(state["verdicts"]) == {str(bravo.pk), str(delta.pk)}  # Copper and Foxtrot show what they are
    assert state["verdicts"][str(bravo.pk)]["verdict"] == "like"
    assert 'value="like" class="like on"' in state["verdicts"][str(bravo.pk)]["buttons"]
    assert state["verdicts"][str(delta.pk)]["verdict"] == ""
    assert 'value="dislike" class="dislike"' in state["verdicts"][str(delta.pk)]["buttons"]
    assert 'name="next" value="/?q=beer"' in state["verdicts"][str(delta.pk)]["buttons"]  # the page, not the poll


def test_changes_want_a_time_and_ids(as_alice, world):
    response = as_alice.get("/scores/changes", {"since": "yesterday"})
    assert response.status_code == 400 and "since must be an ISO date" in response.json()["error"]


def test_the_band_filter_lists_exactly_the_companies_of_that_band(as_alice, world):
    distribution = fit_distribution.score_distribution(FIRST_PROFILE_ID)
    expected = {}
    for score in Score.objects.select_related("company"):
        expected.setdefault(fit_distribution.band_of(score, distribution).key, set()).add(score.company.name)
    assert len(expected) >= 2  # the fixture's four scores are not all in one band
    for key in ("strong", "likely", "unsure", "unlikely", "unexplored"):
        page = as_alice.get("/", {"band": key})
        names = set(re.findall(r"data-open>([^<]*)</a>", text(page)))
        assert names == expected.get(key, set()), key
    assert as_alice.get("/", {"band": "great"}).status_code == 400


def test_filters_combine_and_stay_in_the_url(as_alice, world):
    world["Echo Review"].country = "DE"
    world["Echo Review"].save()
    page = text(as_alice.get("/", {"show": "unlabelled", "industry": "software", "country": "de", "q": "echo"}))
    assert re.findall(r"data-open>([^<]*)</a>", page) == ["Echo Review"]
    assert 'href="/export.csv?show=unlabelled&industry=software&country=de&q=echo"' in page
    job_page = text(as_alice.get("/", {"import": "12345"}))
    assert "No companies match these filters." in job_page
    assert as_alice.get("/", {"import": "abc"}).status_code == 400


def test_each_score_shows_its_band_and_rank_and_labelled_rows_are_marked(as_alice, world):
    response = as_alice.get("/")
    distribution = fit_distribution.score_distribution(FIRST_PROFILE_ID)
    for score in Score.objects.select_related("company"):
        row = table_row(response, score.company.name)
        assert fit_distribution.band_of(score, distribution).label in row and distribution.rank_text(score.fit) in row
    assert 'class="labelled like"' in table_row(response, "Alpha Brewing")
    assert 'class="labelled dislike"' in table_row(response, "Delta Code")
    assert 'class="histogram"' in response.text
    # A bin's colour is the band its fits reach with a liked company close, and the page says so:
    # it read "0.0 to 0.1: 16 companies (likely)" for a bin of mostly unsure and unexplored ones.
    assert "where a liked company is close (without one: unsure, or unexplored)" in response.text
    assert re.search(r'title="About \d+ compan(y|ies) with a fit from', response.text)


def test_reps_who_disagree_are_shown_on_the_dashboard_and_the_company_page(as_alice, world, alice, bob):
    copper = world["Copper Stouts"]
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=copper, user=alice, verdict="like", source="click")
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=copper, user=bob, verdict="dislike", source="click")
    row = table_row(as_alice.get("/"), "Copper Stouts")
    assert "alice liked, bob disliked" in row
    assert "alice liked, bob disliked" in text(as_alice.get(f"/companies/{copper.pk}/"))
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=copper, user=alice, verdict="clear", source="click"
    )  # alice withdraws
    assert "bob disliked" not in table_row(as_alice.get("/"), "Copper Stouts")


@pytest.mark.parametrize(
    "path, keys",
    [("/", "jkldcuox/?"), ("/label-next/", "jkldcuo?")],  # label next: no search, no selection
)
def test_the_pages_show_the_keyboard_shortcuts(as_alice, world, path, keys):
    page = text(as_alice.get(path))
    for key in keys:
        assert f"<kbd>{key}</kbd>" in page


def test_the_company_page_counts_liked_and_disliked_neighbours_and_shows_the_band(as_alice, world):
    bravo = world["Bravo Beers"]
    page = text(as_alice.get(f"/companies/{bravo.pk}/"))
    assert "1 liked and 1 disliked among its 2 nearest labelled companies." in page
    band = fit_distribution.band_of(
        Score.objects.get(company=bravo), fit_distribution.score_distribution(FIRST_PROFILE_ID)
    )
    assert f'<span class="band band-{band.key}">{band.label}</span>' in page


def test_a_managers_label_settles_a_disagreement_and_many_reps_are_summed_up(as_alice, world, alice, bob, staff):
    copper = world["Copper Stouts"]
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=copper, user=alice, verdict="like", source="click")
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=copper, user=bob, verdict="dislike", source="click")
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=copper, user=staff, verdict="like", source="admin"
    )  # settled
    assert disagreements.verdict_conflicts(FIRST_PROFILE_ID, [copper.pk]) == {}
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=copper, user=bob, verdict="dislike", source="click"
    )  # only bob, since
    assert disagreements.verdict_conflicts(FIRST_PROFILE_ID, [copper.pk]) == {}
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=copper, user=alice, verdict="like", source="click"
    )  # and alice again
    assert disagreements.verdict_conflicts(FIRST_PROFILE_ID, [copper.pk]) == {copper.pk: "alice liked, bob disliked"}

    from django.contrib.auth import get_user_model

    for name in ("dora", "ed", "fay", "gil"):
        rep = get_user_model().objects.create_user(name)
        labels.label_company(profile_id=FIRST_PROFILE_ID, company=copper, user=rep, verdict="like", source="api")
    assert disagreements.verdict_conflicts(FIRST_PROFILE_ID, [copper.pk]) == {
        copper.pk: "alice, dora and 3 others liked; bob disliked"
    }


def test_a_score_resting_on_companies_unlike_it_is_unexplored(as_alice, world, alice):
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=world["Bravo Beers"], user=alice, verdict="like", source="click"
    )
    scores.apply_label_changes(FIRST_PROFILE_ID)
    page = as_alice.get("/")
    mark = '<span class="band band-unexplored">unexplored</span>'
    assert mark in table_row(page, "Foxtrot Fashion")  # fashion: nothing labelled is like it
    assert mark not in table_row(page, "Copper Stouts")  # a brewery, near the labelled breweries
    assert mark not in table_row(page, "Echo Review")  # software, near Delta Code
    assert mark in text(as_alice.get(f"/companies/{world['Foxtrot Fashion'].pk}/"))


def test_with_nothing_labelled_the_dashboard_says_how_to_start(as_alice, fake_encoder):
    Company.objects.create(name="Solo Co", description="beer")
    page = text(as_alice.get("/"))
    assert "Nothing is labelled yet, so nothing is scored." in page and 'href="/label-next/"' in page


def test_bands_and_ranks_follow_the_scores_as_soon_as_a_rescore_writes_them(as_alice, api, world, alice):
    before = fit_distribution.score_distribution(FIRST_PROFILE_ID)  # cached now, as a page view leaves it
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=world["Copper Stouts"], user=alice, verdict="like", source="click"
    )
    scores.apply_label_changes(FIRST_PROFILE_ID)
    after = fit_distribution.score_distribution(FIRST_PROFILE_ID)
    fits = list(Score.objects.values_list("fit", flat=True))
    assert before.total == 4 and after.total == len(fits) == 3  # Copper is labelled now: no score
    assert after.quantiles == pytest.approx(Distribution.of(fits).quantiles)
    # "top 1% of 3" everywhere: the dashboard, the company page and the API read one distribution.
    bravo = world["Bravo Beers"]
    rank = after.rank_text(Score.objects.get(company=bravo).fit)
    assert rank.endswith("of 3")
    assert rank in table_row(as_alice.get("/"), "Bravo Beers")
    assert rank in text(as_alice.get(f"/companies/{bravo.pk}/"))
    found = api.get("/api/companies/", {"q": "bravo"}).json()["results"]
    assert found[0]["rank"] == rank
