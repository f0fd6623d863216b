"""The dashboard's pages through Django's test client: paging through many companies, a page
past the last, the count limit, and a page read off the score index equal to the joined one (split
from test_dashboard.py). Real database and services; only the sentence encoder is the fake one."""

from __future__ import annotations

import dataclasses

import pytest

from leads.companies import identity, selectors
from leads.companies.views import PAGE_SIZE
from leads.embedding import services as embeddings
from leads.models import FIRST_PROFILE_ID, Company, Score
from leads.scoring import labels
from tests.test_dashboard import dashboard_names
from tests.web_helpers import filter_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def many(db):
    count = PAGE_SIZE + 12
    Company.objects.bulk_create(
        Company(name=f"Company {i:03d}", dedupe_key=identity.dedupe_key(name=f"Company {i:03d}", domain="", country=""))
        for i in range(count)
    )
    return count


def test_dashboard_pages_through_many_companies(as_alice, many):
    first = as_alice.get("/")
    assert dashboard_names(first) == [f"Company {i:03d}" for i in range(PAGE_SIZE)]
    assert f"{many} companies" in first.text
    assert "Page 1 of 2" in first.text
    assert 'href="?page=2" rel="next">Next →</a>' in first.text
    assert "← Previous" not in first.text

    second = as_alice.get("/", {"page": 2})
    assert dashboard_names(second) == [f"Company {i:03d}" for i in range(PAGE_SIZE, many)]
    assert "Page 2 of 2" in second.text
    assert 'href="?page=1" rel="prev">← Previous</a>' in second.text
    assert "Next →" not in second.text


@pytest.mark.parametrize("page, shown", [("99", 2), ("", 1), (" 2 ", 2)])
def test_a_page_past_the_last_shows_the_last(as_alice, many, page, shown):
    """The list shrinks as reps label: a link to page 3 of yesterday opens the last page now."""
    response = as_alice.get("/", {"page": page})
    assert response.status_code == 200
    assert f"Page {shown} of 2" in response.text


@pytest.mark.parametrize("page", ["abc", "0", "-1", "²", "9" * 30])
def test_a_page_that_is_no_page_number_is_said_on_the_page_itself(as_alice, many, page):
    response = as_alice.get("/", {"page": page, "q": "company"})
    assert response.status_code == 400
    assert filter_error(response) == f"page must be a whole number from 1 to 1,000,000 (got {page!r})"
    assert 'value="company"' in response.text  # nothing typed is lost


def test_pagination_links_keep_the_filter_and_the_search(as_alice, many):
    response = as_alice.get("/", {"show": "unlabelled", "q": "company 0"})
    assert f"{many} companies" in response.text
    assert 'href="?show=unlabelled&amp;q=company+0&page=2" rel="next">Next →</a>' in response.text
    response = as_alice.get("/", {"q": "Company 05"})
    assert dashboard_names(response) == [f"Company {i:03d}" for i in range(50, 60)]
    assert "Page 1 of" not in response.text  # one page: no page links


def test_past_the_count_limit_the_dashboard_says_more_than_and_still_pages(as_alice, world, monkeypatch):
    monkeypatch.setattr("leads.companies.views.COUNT_LIMIT", 3)
    monkeypatch.setattr("leads.companies.views.PAGE_SIZE", 2)
    first = as_alice.get("/")
    assert "More than 3 companies (filter or search to narrow them), best fit first." in first.text
    assert "Page 1 of 2" in first.text
    names = dashboard_names(first) + dashboard_names(as_alice.get("/", {"page": 2}))
    assert names == ["Bravo Beers", "Copper Stouts", "Foxtrot Fashion"]  # best first, up to the limit
    narrowed = as_alice.get("/", {"show": "labelled"})
    assert "2 companies, best fit first." in narrowed.text


@pytest.mark.parametrize("inline", [10_000, 1])
def test_search_finds_the_same_companies_as_a_list_of_ids_or_a_subquery(as_alice, world, monkeypatch, inline):
    monkeypatch.setattr("leads.models.companies.SEARCH_IDS_INLINE", inline)  # 1: two matches go as a subquery
    assert dashboard_names(as_alice.get("/", {"q": "io"})) == ["Echo Review", "Delta Code"]
    assert dashboard_names(as_alice.get("/", {"q": "brew"})) == ["Bravo Beers", "Copper Stouts", "Alpha Brewing"]
    assert dashboard_names(as_alice.get("/", {"q": "lager"})) == ["Bravo Beers", "Alpha Brewing"]


def test_a_description_is_searchable_once_its_company_is_embedded(as_alice, world):
    company = Company.objects.create(name="Hotel Quanta", description="quantum widget foundry")
    assert dashboard_names(as_alice.get("/", {"q": "hotel"})) == ["Hotel Quanta"]  # its name at once
    assert dashboard_names(as_alice.get("/", {"q": "quantum widg"})) == []  # not embedded yet
    embeddings.embed_and_score([company.pk])
    assert dashboard_names(as_alice.get("/", {"q": "quantum widg"})) == ["Hotel Quanta"]
    assert dashboard_names(as_alice.get("/", {"q": "hotel foundry"})) == ["Hotel Quanta"]  # name and description


@pytest.mark.parametrize("show", ["all", "unlabelled", "liked"])
@pytest.mark.parametrize("band", ["", "strong", "likely", "unsure", "unlikely"])
@pytest.mark.parametrize("query", ["", "brew", "io", "lager"])
@pytest.mark.parametrize("dense", [False, True])
def test_a_page_read_off_the_score_table_equals_the_joined_one(world, monkeypatch, show, band, query, dense):
    """BestFirst pages through the score table alone when the filters allow (score_scope): the
    same companies in the same order, and the same count, as the query that joins companies.
    `dense`: every search counts as a common word, whose page is found by walking the best
    scores (one first here, so that the walk has to grow)."""
    if dense:
        monkeypatch.setattr("leads.models.companies.SEARCH_IDS_INLINE", 0)
        monkeypatch.setattr(selectors.BestFirst, "WALK_FIRST_ROWS", 0.02)
    listing = selectors.company_listing(profile_id=FIRST_PROFILE_ID, show=show, band=band, query=query)
    assert not listing.dense_search or (dense and query)  # a common word, when it matches any
    assert listing.score_scope is not None
    joined = dataclasses.replace(
        selectors.company_listing(profile_id=FIRST_PROFILE_ID, show=show, band=band, query=query), score_scope=None
    )
    fast, slow = selectors.BestFirst(listing), selectors.BestFirst(joined)
    assert [c.name for c in fast[0:50]] == [c.name for c in slow[0:50]]
    assert [c.name for c in fast[1:3]] == [c.name for c in slow[1:3]]
    assert fast.count() == slow.count()


@pytest.mark.parametrize(
    "filters",
    [
        {"industry": "brewery"},
        {"industry": "Software", "band": "unlikely"},
        {"industry": "BREWERY", "show": "unlabelled"},
    ],
)
def test_a_page_of_many_matches_walked_off_the_score_index_equals_the_joined_one(world, monkeypatch, filters):
    """With a company-side filter (industry, country, import) that many companies match, BestFirst
    walks the best scores and checks those companies by id (one first here, so the walk grows)."""
    monkeypatch.setattr(selectors.BestFirst, "WALK_FIRST_ROWS", 0.02)
    listing = selectors.company_listing(profile_id=FIRST_PROFILE_ID, **filters)
    assert listing.score_scope is None and listing.walk_scope is not None
    walked = selectors.BestFirst(listing, count_limit=1)  # "many": at least one
    joined = selectors.BestFirst(selectors.company_listing(profile_id=FIRST_PROFILE_ID, **filters))
    assert walked.count_is_capped
    assert [c.name for c in walked[0:50]] == [c.name for c in joined[0:50]]
    assert [c.name for c in walked[1:2]] == [c.name for c in joined[1:2]]


@pytest.mark.parametrize("first", [0.02, 0.1, 20])
def test_a_walk_checks_each_company_once(world, monkeypatch, first):
    """The walk of a common word reads the best scores a slice at a time, each slice larger as
    the matches so far ask: every page the same as the joined query's, no company checked twice."""
    monkeypatch.setattr("leads.models.companies.SEARCH_IDS_INLINE", 0)
    monkeypatch.setattr(selectors.BestFirst, "WALK_FIRST_ROWS", first)
    listing = selectors.company_listing(profile_id=FIRST_PROFILE_ID, query="e")
    assert listing.dense_search is not None
    checked = []
    matching = listing.found.matching
    monkeypatch.setattr(type(listing.found), "matching", lambda self, ids: checked.extend(ids) or matching(ids))
    joined = selectors.BestFirst(dataclasses.replace(listing, score_scope=None))
    walked = selectors.BestFirst(listing)
    for start, stop in [(0, 1), (0, 2), (1, 3), (0, 50)]:
        checked.clear()
        assert [c.name for c in walked[start:stop]] == [c.name for c in joined[start:stop]]
        assert len(checked) == len(set(checked)) > 0


def test_a_company_just_liked_is_under_liked_before_its_rescore_ran(as_alice, world, alice):
    """Its score row lives until the pass its verdict queued deletes it: it is listed by name with
    the labelled companies meanwhile, never by its old score, and never left out."""
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=world["Bravo Beers"], user=alice, source="click", verdict="like"
    )
    assert Score.objects.filter(company=world["Bravo Beers"]).exists()  # no pass yet
    assert dashboard_names(as_alice.get("/", {"show": "liked"})) == ["Alpha Brewing", "Bravo Beers"]
    everyone = dashboard_names(as_alice.get("/"))
    assert everyone.count("Bravo Beers") == 1 and everyone.index("Bravo Beers") > everyone.index("Echo Review")


@pytest.mark.parametrize("query", ["beer", "hops"])
def test_a_search_of_unlabelled_companies_right_after_a_verdict_lists_the_others(as_alice, world, alice, query):
    """The best match liked a moment ago, its pass not run yet: the unlabelled matches are listed,
    every one of them, with the count they make (was a 500: a negative slice of the unscored)."""
    liked = world["Bravo Beers"] if query == "beer" else world["Copper Stouts"]  # the best match, or not
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=liked, user=alice, source="click", verdict="like")
    assert Score.objects.filter(company=liked).exists()  # no pass yet
    response = as_alice.get("/", {"q": query, "show": "unlabelled"})
    assert response.status_code == 200
    expected = sorted(
        c.name for c in Company.objects.in_profile(FIRST_PROFILE_ID).search(query) if c.verdict == "" and c != liked
    )
    assert expected and sorted(dashboard_names(response)) == expected
    assert f"{len(expected)} compan" in response.text
