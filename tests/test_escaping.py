"""Hostile text, from a CSV or a user, is shown as text on every page that shows it: the
dashboard and its search, the company page (similar companies and the score explanation
included), the import pages, the admin and the JSON API.

Each value carries HTML (<img onerror>, <script>), Django template syntax, SQL, a spreadsheet
formula and a terminal escape sequence; no NUL, which Postgres refuses in text. A page passes
when none of the raw markup is in it and each value is in it escaped, with its template syntax
intact (so not evaluated).

Real database and services throughout; only the sentence encoder is the fake bag-of-words one."""

from __future__ import annotations

import csv
import io
import json

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape

from leads import tasks
from leads.accounts import roles
from leads.embedding import services as embeddings
from leads.models import FIRST_PROFILE_ID, Company, ImportJob
from leads.scoring import labels
from leads.scoring import services as scores
from tests.import_helpers import confirm

pytestmark = pytest.mark.django_db

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"
BOLD = "<b onmouseover=alert(3)>"
LINK = '"><img src=x onerror=alert(4)>'  # breaks out of an attribute
TEMPLATE = '{{ 7|add:1 }} {% now "Y" %}'
SQL = "'; drop table leads_company; --"
FORMULA = '=HYPERLINK("http://evil.example/","open")'
ANSI = "\x1b[31m"
# None of this may reach a page as markup.
RAW_MARKUP = [IMG, SCRIPT, BOLD, LINK.removeprefix('">')]

NAME = f"{FORMULA} Acme {IMG} {TEMPLATE}"
TWIN_NAME = f"Acme Twin {SCRIPT} {SQL}{ANSI}"
DESCRIPTION = f"anvil rocket factory {SCRIPT} {TEMPLATE} {SQL}{ANSI}"
INDUSTRY = f"{BOLD}Anvils {TEMPLATE}"
COUNTRY = f"{IMG}{ANSI} {TEMPLATE}"  # 64 characters: a country holds 100
WEBSITE = f"https://acme.example/?q={LINK}"
EXTRA = {f"{BOLD}size {TEMPLATE}": f"{SCRIPT}{FORMULA} {TEMPLATE}"}
USERNAME = f"{IMG}{ANSI} {TEMPLATE}"


def shown_escaped(response, *values: str, status: int = 200) -> str:
    """The page's HTML, after checking that no raw markup is in it and each value is, escaped."""
    assert response.status_code == status, response.status_code
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = response.content.decode()
    for markup in RAW_MARKUP:
        assert markup not in page
    for value in values:
        assert escape(value) in page, f"{value!r} is not on the page, escaped"
    return page


@pytest.fixture
def mallory(django_user_model):
    """A sales manager whose username is hostile text: create_user does not check it (nor might
    an admin or a sync from a directory)."""
    user = django_user_model.objects.create_user(USERNAME, "mallory@example.com", "mallory-pass-1", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.MANAGER))
    return user


@pytest.fixture
def hostile(fake_encoder, mallory, fresh_hnsw_index):
    """Acme, liked by mallory, every field hostile; Acme Twin, unlabelled, scored from Acme and
    shown among its similar companies; Plain Anvils, similar to both."""
    acme = Company.objects.create(
        name=NAME, website=WEBSITE, description=DESCRIPTION, industry=INDUSTRY, country=COUNTRY, extra=EXTRA
    )
    twin = Company.objects.create(name=TWIN_NAME, description="anvil rocket factory twin", industry=INDUSTRY)
    plain = Company.objects.create(name="Plain Anvils", description="anvil rocket factory plain")
    embeddings.embed_companies([acme.pk, twin.pk, plain.pk])
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=acme, user=mallory, source="click", verdict="like")
    assert scores.rescore_all(FIRST_PROFILE_ID) == 2
    return {
        name: Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=c.pk)
        for name, c in [("acme", acme), ("twin", twin), ("plain", plain)]
    }


def test_it_stores_hostile_text_as_it_was_given(hostile):
    acme = Company.objects.get(pk=hostile["acme"].pk)
    assert (acme.name, acme.description, acme.industry, acme.country, acme.extra) == (
        NAME,
        DESCRIPTION,
        INDUSTRY,
        COUNTRY,
        EXTRA,
    )


# --- the pages reps see -----------------------------------------------------------


def test_it_escapes_the_dashboard(as_alice, hostile):
    shown_escaped(as_alice.get("/"), NAME, TWIN_NAME, INDUSTRY, COUNTRY)


def test_it_escapes_search_results_and_the_search_itself(as_alice, hostile):
    page = shown_escaped(as_alice.get("/", {"q": "acme"}), NAME, TWIN_NAME, INDUSTRY, COUNTRY)
    assert "2 companies" in page
    shown_escaped(as_alice.get("/", {"q": NAME}), NAME)  # echoed in the search box


def test_it_escapes_the_company_page(as_alice, hostile):
    page = shown_escaped(
        as_alice.get(f"/companies/{hostile['acme'].pk}/"),
        NAME,
        WEBSITE,  # the link's href
        DESCRIPTION,
        INDUSTRY,
        COUNTRY,
        *EXTRA,
        *EXTRA.values(),
        USERNAME,  # who liked it
        TWIN_NAME,  # a similar company
    )
    assert f"<title>{escape(NAME)} · leads</title>" in page
    assert f'<a href="/companies/{hostile["twin"].pk}/">{escape(TWIN_NAME)}</a>' in page


def test_it_escapes_the_score_explanation(as_alice, hostile):
    twin = hostile["twin"]
    page = shown_escaped(as_alice.get(f"/companies/{twin.pk}/"), TWIN_NAME, NAME)
    assert f"): it is close to {escape(NAME)}, which you liked." in page
    assert f'<a href="/companies/{hostile["acme"].pk}/">{escape(NAME)}</a>' in page  # the neighbours' table


def test_it_escapes_the_label_message(as_alice, hostile):
    response = as_alice.post(f"/companies/{hostile['twin'].pk}/label", {"verdict": "dislike"}, follow=True)
    assert f"{escape(TWIN_NAME)}: disliked." in shown_escaped(response, TWIN_NAME)


def test_it_escapes_the_username_in_the_menu(client, mallory):
    client.force_login(mallory)
    assert f"Log out {escape(USERNAME)}</button>" in shown_escaped(client.get("/"), USERNAME)


def test_it_escapes_the_login_page(client, mallory):
    response = client.post("/accounts/login/?next=/" + LINK, {"username": USERNAME, "password": "wrong"})
    page = shown_escaped(response, USERNAME)
    assert f'name="username" autofocus required value="{escape(USERNAME)}"' in page
    assert f'name="next" value="/{escape(LINK)}"' in page


def test_it_escapes_a_bad_filter_on_the_dashboard(as_alice, hostile):
    page = shown_escaped(as_alice.get("/", {"show": SCRIPT}), SCRIPT, status=400)
    assert escape(SCRIPT) in page.split("data-filter-error>", 1)[1]  # in what the page says to fix


@pytest.mark.parametrize(
    "method, path, data",
    [
        ("get", "/export.csv", {"show": SCRIPT}),
        ("post", "/companies/{pk}/label", {"verdict": SCRIPT}),
    ],
)
def test_it_answers_bad_input_that_it_quotes_back_in_plain_text(as_alice, hostile, method, path, data):
    response = getattr(as_alice, method)(path.format(pk=hostile["acme"].pk), data)
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert SCRIPT in response.content.decode()  # quoted as it was sent, which is safe in plain text


# --- import pages -----------------------------------------------------------------

HEADER = f"{BOLD}Notes {TEMPLATE}"
FILE_NAME = f"{IMG}{TEMPLATE}.csv"  # no slash: Django keeps only what follows the last one
BAD_LABEL = f"{SCRIPT}{TEMPLATE}"


def hostile_csv() -> bytes:
    rows = [
        ["name", "description", "industry", "country", "label", HEADER],
        [f"Imported {NAME}", DESCRIPTION, INDUSTRY, COUNTRY, "", f"{SCRIPT}{FORMULA}"],
        ["Badly Labelled", "anvils", "", "", BAD_LABEL, ""],
    ]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


@pytest.fixture
def as_mallory(client, mallory):
    client.force_login(mallory)
    return client


@pytest.fixture
def job(as_mallory, fake_encoder) -> ImportJob:
    """The hostile file uploaded by mallory, waiting for its mapping to be confirmed."""
    response = as_mallory.post("/imports/", {"file": SimpleUploadedFile(FILE_NAME, hostile_csv(), "text/csv")})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert (job.original_name, job.headers[-1], job.delimiter) == (FILE_NAME, HEADER, ",")
    return job


def test_it_escapes_the_import_preview(as_mallory, job):
    page = shown_escaped(
        as_mallory.get(f"/imports/{job.pk}/"), FILE_NAME, HEADER, f"Imported {NAME}", DESCRIPTION, INDUSTRY, BAD_LABEL
    )
    assert f'aria-label="Column {escape(HEADER)}"' in page
    assert f"<h1>Preview: {escape(FILE_NAME)}</h1>" in page


def test_it_escapes_the_import_progress_and_its_rejected_rows(as_mallory, imported):
    reason = imported.rejected_rows[0]["reason"]
    assert SCRIPT in reason  # the bad label, quoted back
    page = shown_escaped(as_mallory.get(f"/imports/{imported.pk}/"), FILE_NAME, reason)
    assert f"<h1>Import: {escape(FILE_NAME)}</h1>" in page
    download = as_mallory.get(f"/imports/{imported.pk}/rejected.csv")  # a file to save, never a page
    assert download["Content-Type"].startswith("text/csv")
    assert download["Content-Disposition"].startswith("attachment; ")


def test_it_escapes_an_import_error(as_mallory, job):
    error = f"The import failed: {SCRIPT} {TEMPLATE}"
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.FAILED, error=error)
    shown_escaped(as_mallory.get(f"/imports/{job.pk}/"), FILE_NAME, error)
    progress = as_mallory.get(f"/imports/{job.pk}/progress")
    assert progress["Content-Type"] == "application/json"
    assert progress.json()["error"] == error


def test_it_escapes_the_list_of_imports(as_mallory, job):
    shown_escaped(as_mallory.get("/imports/"), FILE_NAME, USERNAME)


# --- admin ------------------------------------------------------------------------


@pytest.fixture
def imported(job, mallory) -> ImportJob:
    """The hostile file, imported: one company created, one row rejected."""
    client = Client()
    client.force_login(mallory)
    assert confirm(client, job).status_code == 302
    tasks.run_import(job.pk)
    job.refresh_from_db()
    assert (job.state, job.created, job.rejected) == ("done", 1, 1)
    return job


@pytest.fixture
def in_admin(hostile, imported, staff):
    """A client logged in as charlie, a superuser, with the hostile companies and import about."""
    client = Client()
    client.force_login(staff)
    return client


def test_it_escapes_the_admin_company_list_and_its_filters(in_admin, hostile):
    shown_escaped(in_admin.get("/admin/leads/company/"), NAME, TWIN_NAME)
    shown_escaped(in_admin.get("/admin/leads/company/", {"q": "acme"}), NAME, TWIN_NAME)
    # Industry and country are typed into the sidebar (no list of every value): shown back escaped.
    for field, value in (("industry", INDUSTRY), ("country", COUNTRY)):
        page = shown_escaped(in_admin.get("/admin/leads/company/", {field: value}), NAME, value)
        sidebar = page.split('id="changelist-filter"')[1]
        assert f'name="{field}" value="{escape(value)}"' in sidebar


def test_it_escapes_the_admin_search_box(in_admin, hostile):
    page = shown_escaped(in_admin.get("/admin/leads/company/", {"q": NAME}), NAME)
    assert f'name="q" value="{escape(NAME)}"' in page


def test_it_escapes_the_admin_message_after_a_delete(in_admin, hostile):
    response = in_admin.post(f"/admin/leads/company/{hostile['twin'].pk}/delete/", {"post": "yes"}, follow=True)
    assert f"“{escape(TWIN_NAME)}” was deleted" in shown_escaped(response, TWIN_NAME)
    assert not Company.objects.filter(pk=hostile["twin"].pk).exists()


def test_it_escapes_failed_log_ins_in_the_admin(client, staff):
    client.post("/accounts/login/", {"username": USERNAME, "password": "wrong"})
    attempt = AccessAttempt.objects.get(username=USERNAME)  # recorded by django-axes
    client.force_login(staff)
    shown_escaped(client.get("/admin/axes/accessattempt/"), USERNAME)
    shown_escaped(client.get(f"/admin/axes/accessattempt/{attempt.pk}/change/"), USERNAME)


def test_it_escapes_the_admin_company_page(in_admin, hostile):
    acme = hostile["acme"]
    page = shown_escaped(
        in_admin.get(f"/admin/leads/company/{acme.pk}/change/"),
        NAME,
        WEBSITE,
        DESCRIPTION,
        INDUSTRY,
        COUNTRY,
        *[text for pair in EXTRA.items() for text in pair],  # the extra columns, listed
        USERNAME,  # in the label history
    )
    assert f'name="name" value="{escape(NAME)}"' in page
    shown_escaped(in_admin.get(f"/admin/leads/company/{acme.pk}/history/"), NAME)
    shown_escaped(in_admin.get(f"/admin/leads/company/{acme.pk}/delete/"), NAME)


@pytest.mark.parametrize(
    "path, values",
    [
        ("/admin/leads/label/", [NAME, USERNAME]),
        ("/admin/leads/importjob/", [FILE_NAME, USERNAME]),
        ("/admin/auth/user/", [USERNAME]),
    ],
)
def test_it_escapes_the_other_admin_lists(in_admin, path, values):
    shown_escaped(in_admin.get(path), *values)


def test_it_escapes_the_admin_import_and_user_pages(in_admin, imported, mallory):
    shown_escaped(in_admin.get(f"/admin/leads/importjob/{imported.pk}/change/"), FILE_NAME, USERNAME)
    shown_escaped(in_admin.get(f"/admin/auth/user/{mallory.pk}/change/"), USERNAME)
    shown_escaped(in_admin.get(f"/admin/auth/user/{mallory.pk}/password/"), USERNAME)


# --- API --------------------------------------------------------------------------


def json_of(response) -> dict:
    """The body, parsed strictly (a raw control character would fail), after checking that no
    browser will read it as HTML."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"
    return json.loads(response.content)


def test_it_gives_hostile_text_back_unchanged_in_the_api(as_alice, hostile):
    results = {c["id"]: c for c in json_of(as_alice.get("/api/companies/", {"q": "acme"}))["results"]}
    acme, twin = results[hostile["acme"].pk], results[hostile["twin"].pk]
    assert (acme["name"], acme["website"], acme["description"], acme["industry"], acme["country"], acme["extra"]) == (
        NAME,
        WEBSITE,
        DESCRIPTION,
        INDUSTRY,
        COUNTRY,
        EXTRA,
    )
    assert twin["name"] == TWIN_NAME
    similar = json_of(as_alice.get(f"/api/companies/{hostile['plain'].pk}/similar"))
    assert sorted(s["name"] for s in similar["results"]) == sorted([TWIN_NAME, NAME])


def test_it_escapes_control_characters_in_api_json(as_alice, hostile):
    response = as_alice.get("/api/companies/", {"q": "acme"})
    assert b"\x1b" not in response.content
    assert b"\\u001b[31m" in response.content
