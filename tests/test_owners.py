"""Owners and notes: the services (leads/owners/services.py) and who may use them, the company page
and the dashboard row, the owner filters, the API, the admin's bulk action and the export.

Users: alice and frank are sales reps, bob a sales manager, dave an admin (views only).
Real database throughout; embedding with the fake bag-of-words encoder (the `world` fixture)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.accounts import roles
from leads.models import Company, CompanyNote
from leads.owners import services
from leads.owners.services import InvalidNote, Refused
from tests.web_helpers import filter_error, in_role, logged_in, table_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob_manages(bob):
    return in_role(bob, roles.MANAGER)


@pytest.fixture
def dave(django_user_model):
    return in_role(django_user_model.objects.create_user("dave", "dave@example.com", "dave-password-1"), roles.ADMIN)


@pytest.fixture
def frank(django_user_model):
    return django_user_model.objects.create_user("frank", "frank@example.com", "frank-password-1")  # a rep


def owner_of(company: Company) -> str | None:
    owner = Company.objects.select_related("owner").get(pk=company.pk).owner
    return owner.username if owner else None


# --- the services ---------------------------------------------------------------------------


def test_it_lets_a_rep_take_an_unassigned_company_and_release_it(world, alice):
    bravo = world["Bravo Beers"]
    services.assign_company(company=bravo, owner=alice, by=alice)
    assert owner_of(bravo) == "alice"
    services.assign_company(company=bravo, owner=None, by=alice)
    assert owner_of(bravo) is None


def test_it_refuses_a_rep_another_reps_company_and_changes_nothing(world, alice, frank):
    bravo = world["Bravo Beers"]
    services.assign_company(company=bravo, owner=frank, by=frank)
    for owner in (alice, None):
        with pytest.raises(Refused, match="Bravo Beers is frank's: ask a sales manager to reassign it."):
            services.assign_company(company=bravo, owner=owner, by=alice)
    assert owner_of(bravo) == "frank"


def test_it_refuses_a_rep_giving_a_company_to_someone_else(world, alice, frank):
    with pytest.raises(Refused, match="to themselves only: ask a sales manager to assign it to frank"):
        services.assign_company(company=world["Bravo Beers"], owner=frank, by=alice)
    assert owner_of(world["Bravo Beers"]) is None


def test_it_lets_a_manager_assign_reassign_and_unassign(world, alice, frank, bob_manages):
    bravo = world["Bravo Beers"]
    services.assign_company(company=bravo, owner=alice, by=bob_manages)
    services.assign_company(company=bravo, owner=frank, by=bob_manages)
    assert owner_of(bravo) == "frank"
    services.assign_company(company=bravo, owner=None, by=bob_manages)
    assert owner_of(bravo) is None


def test_it_refuses_an_admin_and_an_owner_who_may_not_own(world, alice, dave, bob_manages):
    with pytest.raises(Refused, match="ask an admin to add you to “Sales reps”"):
        services.assign_company(company=world["Bravo Beers"], owner=dave, by=dave)
    with pytest.raises(Refused, match="dave cannot own companies"):
        services.assign_company(company=world["Bravo Beers"], owner=dave, by=bob_manages)
    alice.is_active = False
    alice.save()
    with pytest.raises(Refused, match="alice cannot own companies"):
        services.assign_company(company=world["Bravo Beers"], owner=alice, by=bob_manages)
    assert owner_of(world["Bravo Beers"]) is None


def test_it_assigns_many_companies_at_once(world, alice, frank, bob_manages):
    ids = [world[name].pk for name in ("Bravo Beers", "Copper Stouts", "Echo Review")]
    services.assign_company(company=world["Echo Review"], owner=alice, by=alice)
    assert services.assign_companies(ids=ids, owner=alice, by=bob_manages) == 2  # Echo already was
    assert set(Company.objects.filter(owner=alice).values_list("pk", flat=True)) == set(ids)
    assert services.assign_companies(ids=ids[:2], owner=None, by=bob_manages) == 2
    assert list(Company.objects.filter(owner=alice).values_list("pk", flat=True)) == [ids[2]]


def test_a_rep_assigning_many_to_themselves_leaves_other_reps_companies_alone(world, alice, frank):
    bravo, copper = world["Bravo Beers"], world["Copper Stouts"]
    services.assign_company(company=copper, owner=frank, by=frank)
    assert services.assign_companies(ids=[bravo.pk, copper.pk], owner=alice, by=alice) == 1
    assert (owner_of(bravo), owner_of(copper)) == ("alice", "frank")
    with pytest.raises(Refused):
        services.assign_companies(ids=[bravo.pk], owner=frank, by=alice)


def test_it_keeps_a_note_with_its_author_and_time(world, alice):
    note = services.add_note(company=world["Bravo Beers"], author=alice, text="  Called;\r\ncall back in May.  ")
    note.refresh_from_db()
    assert (note.text, note.author, note.company_id) == ("Called;\ncall back in May.", alice, world["Bravo Beers"].pk)
    assert note.created_at is not None


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "The note is empty: write something."),
        ("   \n ", "The note is empty: write something."),
        ("\u200b\u2060 \ufeff", "The note is empty: write something."),  # zero-width characters only
        ("call\x00back", r"NUL character \(\\x00\), which cannot be stored: remove it."),
        ("x" * 2001, "at most 2,000 characters; this one has 2,001: shorten it."),
        (None, "A note is text"),
    ],
)
def test_it_refuses_a_note_it_cannot_keep_and_says_what_to_fix(world, alice, text, message):
    with pytest.raises(InvalidNote, match=message):
        services.add_note(company=world["Bravo Beers"], author=alice, text=text)
    assert not CompanyNote.objects.exists()


def test_a_note_of_exactly_the_limit_is_kept(world, alice):
    assert len(services.add_note(company=world["Bravo Beers"], author=alice, text="x" * 2000).text) == 2000


def test_an_admin_may_not_write_notes(world, dave):
    with pytest.raises(Refused, match="Sales reps"):
        services.add_note(company=world["Bravo Beers"], author=dave, text="hello")
    assert not CompanyNote.objects.exists()


# --- the pages ------------------------------------------------------------------------------


def test_a_rep_takes_a_company_on_its_page_and_writes_notes_newest_first(world, alice):
    bravo, client = world["Bravo Beers"], logged_in(alice)
    page = client.get(f"/companies/{bravo.pk}/").text
    assert "Unassigned" in page and "Assign to me" in page and 'id="owner-choice"' not in page  # no picker for reps
    response = client.post(f"/companies/{bravo.pk}/owner", {"owner": "me"}, follow=True)
    assert "Bravo Beers is now alice&#x27;s." in response.text and owner_of(bravo) == "alice"
    assert "Unassign" in response.text
    client.post(f"/companies/{bravo.pk}/notes", {"text": "First call: no answer."})
    response = client.post(f"/companies/{bravo.pk}/notes", {"text": "Second call: <b>demo</b> booked."}, follow=True)
    assert response.redirect_chain[-1][0] == f"/companies/{bravo.pk}/#notes"
    page = response.text
    assert page.index("Second call") < page.index("First call")  # newest first
    assert "&lt;b&gt;demo&lt;/b&gt;" in page and "<b>demo</b>" not in page


def test_a_refused_note_comes_back_with_its_text_and_what_to_fix(world, alice):
    bravo = world["Bravo Beers"]
    response = logged_in(alice).post(f"/companies/{bravo.pk}/notes", {"text": "y" * 2001})
    assert response.status_code == 400
    assert "this one has 2,001: shorten it." in response.text and "y" * 2001 in response.text
    response = logged_in(alice).post(f"/companies/{bravo.pk}/notes", {"text": "a\x00b"})
    assert response.status_code == 400 and "NUL character" in response.text
    assert not CompanyNote.objects.exists()


def test_a_manager_assigns_a_company_to_a_rep_on_its_page(world, alice, bob_manages):
    bravo, client = world["Bravo Beers"], logged_in(bob_manages)
    page = client.get(f"/companies/{bravo.pk}/").text
    assert 'id="owner-choice"' in page and '<option value="alice">alice</option>' in page
    assert '<option value="dave"' not in page  # admins cannot own companies
    client.post(f"/companies/{bravo.pk}/owner", {"owner": "alice"})
    assert owner_of(bravo) == "alice"
    client.post(f"/companies/{bravo.pk}/owner", {"owner": "none"})
    assert owner_of(bravo) is None


def test_the_pages_refuse_what_a_role_may_not_do_and_say_whom_to_ask(world, alice, frank, dave):
    bravo = world["Bravo Beers"]
    page = logged_in(dave).get(f"/companies/{bravo.pk}/").text
    assert "Assign to me" not in page and 'name="text"' not in page  # an admin only looks
    response = logged_in(dave).post(f"/companies/{bravo.pk}/notes", {"text": "hi"})
    assert response.status_code == 403 and "Sales reps" in response.text
    services.assign_company(company=bravo, owner=frank, by=frank)
    response = logged_in(alice).post(f"/companies/{bravo.pk}/owner", {"owner": "me"})
    assert response.status_code == 403 and "Bravo Beers is frank&#x27;s: ask a sales manager" in response.text
    response = logged_in(alice).post(f"/companies/{bravo.pk}/owner", {"owner": "frank"})
    assert response.status_code == 403
    response = logged_in(alice).post(f"/companies/{bravo.pk}/owner", {"owner": "nobody-like-this"})
    assert response.status_code == 400 and response["Content-Type"].startswith("text/plain")
    assert "nobody is called 'nobody-like-this'" in response.text
    assert owner_of(bravo) == "frank" and not CompanyNote.objects.exists()


def test_a_dashboard_row_takes_a_company_through_htmx(world, alice):
    bravo = world["Bravo Beers"]
    row = table_row(logged_in(alice).get("/"), "Bravo Beers")
    assert "Unassigned" in row and "Assign to me" in row
    response = logged_in(alice).post(f"/companies/{bravo.pk}/owner", {"owner": "me"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response.text.startswith(f'<tr id="company-{bravo.pk}"')
    assert 'class="owner-name">alice<' in response.text and "Bravo Beers is now alice&#x27;s." in response.text


@pytest.mark.parametrize(
    "owner, expected",
    [
        ("me", ["Bravo Beers"]),
        ("alice", ["Bravo Beers"]),
        ("frank", ["Copper Stouts"]),
        ("none", ["Foxtrot Fashion", "Echo Review", "Alpha Brewing", "Delta Code", "Golf Pending"]),
        ("unassigned", ["Foxtrot Fashion", "Echo Review", "Alpha Brewing", "Delta Code", "Golf Pending"]),
    ],
)
def test_the_dashboard_filters_by_owner(world, alice, frank, owner, expected):
    services.assign_company(company=world["Bravo Beers"], owner=alice, by=alice)
    services.assign_company(company=world["Copper Stouts"], owner=frank, by=frank)
    response = logged_in(alice).get("/", {"owner": owner})
    names = [name for name in world if f">{name}</a>" in response.text]
    assert sorted(names) == sorted(expected)
    assert f'<option value="{owner}" selected>' in response.text or owner == "unassigned"


def test_an_unknown_owner_filter_says_what_to_fix(world, alice):
    response = logged_in(alice).get("/", {"owner": "<script>"})
    assert filter_error(response) == "owner must be me, none or a username; nobody is called '<script>'"
    assert "<script>" not in response.text  # escaped on the page


def test_the_dashboard_reads_owners_without_a_query_per_row(world, alice, frank):
    client = logged_in(alice)
    client.get("/")  # the session, the caches

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/").status_code == 200
        return len(captured)

    before = queries()
    for name, owner in (("Bravo Beers", alice), ("Copper Stouts", frank), ("Echo Review", alice)):
        services.assign_company(company=world[name], owner=owner, by=owner)
        services.add_note(company=world[name], author=owner, text="a note")
    assert queries() == before


# --- the API --------------------------------------------------------------------------------


def test_the_api_carries_owners_filters_by_them_and_gives_a_company_its_notes(api, world, alice, frank):
    bravo = world["Bravo Beers"]
    assert api.post(f"/api/companies/{bravo.pk}/owner", {"owner": "me"}, content_type="application/json").json() == {
        "id": bravo.pk,
        "owner": "alice",
    }
    services.assign_company(company=world["Copper Stouts"], owner=frank, by=frank)
    rows = {c["name"]: c["owner"] for c in api.get("/api/companies/").json()["results"]}
    assert (rows["Bravo Beers"], rows["Copper Stouts"], rows["Echo Review"]) == ("alice", "frank", None)
    assert [c["name"] for c in api.get("/api/companies/", {"owner": "me"}).json()["results"]] == ["Bravo Beers"]
    assert [
        c["name"] for c in api.get("/api/companies/", {"owner": "frank", "ordering": "name"}).json()["results"]
    ] == ["Copper Stouts"]
    assert len(api.get("/api/companies/", {"owner": "none"}).json()["results"]) == 5
    response = api.get("/api/companies/", {"owner": "zed"})
    assert response.status_code == 400 and "nobody is called 'zed'" in response.json()["error"]

    response = api.post(f"/api/companies/{bravo.pk}/notes", {"text": "Called."}, content_type="application/json")
    assert response.status_code == 201 and response.json()["text"] == "Called." and response.json()["author"] == "alice"
    api.post(f"/api/companies/{bravo.pk}/notes", {"text": "Demo booked."}, content_type="application/json")
    detail = api.get(f"/api/companies/{bravo.pk}").json()
    assert detail["owner"] == "alice" and [n["text"] for n in detail["notes"]] == ["Demo booked.", "Called."]
    assert api.get("/api/companies/999999").status_code == 404


def test_the_api_unassigns_with_patch_and_null(api, world, alice):
    bravo = world["Bravo Beers"]
    services.assign_company(company=bravo, owner=alice, by=alice)
    response = api.patch(f"/api/companies/{bravo.pk}/owner", {"owner": None}, content_type="application/json")
    assert response.json() == {"id": bravo.pk, "owner": None} and owner_of(bravo) is None


@pytest.mark.parametrize(
    "path, body, status, message",
    [
        ("owner", b"{", 400, "body must be JSON like"),
        ("owner", b"[]", 400, 'body must be JSON like {"owner"'),
        ("owner", json.dumps({"owner": "frank"}).encode(), 403, "to themselves only"),
        ("owner", json.dumps({"owner": "zed\x00"}).encode(), 400, "owner must be me, none or a username"),
        ("notes", json.dumps({"text": "x" * 2001}).encode(), 400, "at most 2,000 characters"),
        ("notes", json.dumps({"text": "a\x00b"}).encode(), 400, "NUL character"),
        ("notes", json.dumps({"text": 42}).encode(), 400, "A note is text"),
        ("notes", json.dumps({"note": "hi"}).encode(), 400, 'body must be JSON like {"text"'),
    ],
)
def test_the_api_refuses_bad_owner_and_note_bodies_and_says_what_to_fix(api, world, frank, path, body, status, message):
    response = api.post(f"/api/companies/{world['Bravo Beers'].pk}/{path}", body, content_type="application/json")
    assert response.status_code == status and message in response.json()["error"]
    assert owner_of(world["Bravo Beers"]) is None and not CompanyNote.objects.exists()


def test_the_api_keeps_an_admin_to_reading(client, world, dave):
    from leads.models import ApiToken

    client.defaults["HTTP_AUTHORIZATION"] = f"Token {ApiToken.issue(user=dave).key}"
    bravo = world["Bravo Beers"]
    for path, body in (("owner", {"owner": "me"}), ("notes", {"text": "hi"})):
        response = client.post(f"/api/companies/{bravo.pk}/{path}", body, content_type="application/json")
        assert response.status_code == 403 and "Sales reps" in response.json()["error"]
    assert client.get(f"/api/companies/{bravo.pk}").status_code == 200


# --- the admin and the export ---------------------------------------------------------------


def test_the_admins_bulk_action_assigns_to_the_owner_picked(world, alice, bob_manages):
    bravo, echo = world["Bravo Beers"], world["Echo Review"]
    client = logged_in(bob_manages)
    selected = {"_selected_action": [bravo.pk, echo.pk]}
    response = client.post("/admin/leads/company/", {"action": "assign_to", "owner": alice.pk, **selected}, follow=True)
    assert "2 companies now alice&#x27;s" in response.text
    assert (owner_of(bravo), owner_of(echo)) == ("alice", "alice")
    response = client.post("/admin/leads/company/", {"action": "assign_to", "owner": "", **selected}, follow=True)
    assert "Pick the owner in the box beside the action list" in response.text
    response = client.post("/admin/leads/company/", {"action": "unassign", **selected}, follow=True)
    assert "2 companies unassigned" in response.text and owner_of(bravo) is None


def test_the_export_carries_the_owner_and_the_notes_neutralised(world, alice):
    bravo = world["Bravo Beers"]
    services.assign_company(company=bravo, owner=alice, by=alice)
    services.add_note(company=bravo, author=alice, text="older note")
    services.add_note(company=bravo, author=alice, text='=HYPERLINK("http://evil")')
    response = logged_in(alice).get("/export.csv", {"owner": "me"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    header, (row,) = rows[0], rows[1:]
    got = dict(zip(header, row))
    assert header[-11:-6] == ["owner", "notes", "latest_note", "latest_note_by", "latest_note_at"]
    assert (got["name"], got["owner"], got["notes"], got["latest_note_by"]) == ("Bravo Beers", "alice", "2", "alice")
    assert got["latest_note"] == '\'=HYPERLINK("http://evil")' and got["latest_note_at"]
    everyone = list(
        csv.DictReader(io.StringIO(b"".join(logged_in(alice).get("/export.csv").streaming_content).decode("utf-8-sig")))
    )
    echo = next(r for r in everyone if r["name"] == "Echo Review")
    assert (echo["owner"], echo["notes"], echo["latest_note"]) == ("", "0", "")
