"""The staff import pages (upload, preview and mapping, progress, rejected rows), the CSV
export and the import_companies command, through Django's test client.

Real database throughout; the worker's part is played by calling the task functions
directly (leads.tasks.run_import) and embedding with the fake bag-of-words encoder."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from leads import tasks
from leads.management.progress import ProgressBar
from leads.models import Company, ImportJob
from leads.services import embeddings, imports, labels, scores
from tests.conftest import FIXTURES

pytestmark = pytest.mark.django_db

PROSPECTS = (
    "company,website,about,sector,country,employees,pitch,internal id\n"
    "Hopfield Brewery,hopfield.com,Craft brewery making lager.,Brewery,GB,40,Loves cold chains,H-1\n"
    "Pixel Forge,pixelforge.dev,Developer tools for code review.,Software,US,80,Big on CI,P-2\n"
    "Frostline,frostline.io,Refrigerated trucks.,Logistics,DE,300,Fleet of 40,F-3\n"
    ",nameless.example,A row without a name.,Retail,FR,,,X-4\n"
)
SUGGESTED = {
    "column-0": "name",
    "column-1": "website",
    "column-2": "description",
    "column-3": "industry",
    "column-4": "country",
    "column-5": "extra",  # employees
    "column-6": "extra",  # pitch
    "column-7": "extra",  # internal id
}


@pytest.fixture
def as_staff(client, staff):
    client.force_login(staff)
    return client


def upload(client, content: bytes | str, name: str = "prospects.csv"):
    if isinstance(content, str):
        content = content.encode()
    return client.post("/imports/", {"file": SimpleUploadedFile(name, content, content_type="text/csv")})


def uploaded_job(client, content: bytes | str = PROSPECTS, name: str = "prospects.csv") -> ImportJob:
    response = upload(client, content, name)
    assert response.status_code == 302, text(response)
    job = ImportJob.objects.get()
    assert response["Location"] == f"/imports/{job.pk}/"
    return job


def confirm(client, job: ImportJob, **overrides: str):
    """Post the mapping form: the suggested targets, with some columns changed."""
    data = {f"column-{i}": _select_value(target) for i, target in imports.job_mapping(job).items()}
    return client.post(f"/imports/{job.pk}/", {**data, **overrides})


def _select_value(target: str) -> str:
    return "extra" if target.startswith("extra:") else target


def text(response) -> str:
    return html.unescape(response.content.decode())


def selected_options(response) -> dict[str, str]:
    """Each <select>'s name and the value of its selected option."""
    return {
        name: (re.findall(r'<option value="([^"]*)" selected>', options) or [None])[0]
        for name, options in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', response.content.decode(), re.S)
    }


def progress_json(client, job: ImportJob) -> dict:
    response = client.get(f"/imports/{job.pk}/progress")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return response.json()


def embed_import(job: ImportJob) -> list[int]:
    return embeddings.embed_companies(Company.objects.filter(import_job=job).values_list("pk", flat=True))


# --- staff only -------------------------------------------------------------------


@pytest.fixture
def job(db):
    return imports.create_job(path=FIXTURES / "small.csv")


def _paths(job: ImportJob) -> list[str]:
    return ["/imports/", f"/imports/{job.pk}/", f"/imports/{job.pk}/progress", f"/imports/{job.pk}/rejected.csv"]


def test_import_pages_send_anonymous_visitors_to_log_in(client, job):
    for path in _paths(job):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"/admin/login/?next={path}"


def test_import_pages_are_closed_to_reps_who_are_not_staff(client, alice, job):
    client.force_login(alice)
    for path in _paths(job):
        response = client.get(path)
        assert response.status_code in (302, 403), path
        if response.status_code == 302:
            assert response["Location"].startswith("/admin/login/"), path
        assert "prospects" not in text(response) and "small.csv" not in text(response)
    # Nor can they upload, reread or confirm.
    assert upload(client, PROSPECTS).status_code in (302, 403)
    assert ImportJob.objects.count() == 1
    client.post(f"/imports/{job.pk}/", {"action": "reread", "encoding": "latin-1", "delimiter": ";"})
    client.post(f"/imports/{job.pk}/", {f"column-{i}": "ignore" for i in range(7)} | {"column-0": "name"})
    job.refresh_from_db()
    assert (job.state, job.encoding, job.delimiter) == (ImportJob.State.PENDING, "utf-8", ",")


# --- upload -----------------------------------------------------------------------


def test_the_upload_page_lists_recent_imports(as_staff, job):
    response = as_staff.get("/imports/")
    assert response.status_code == 200
    assert 'type="file" name="file"' in text(response)
    assert f'<a href="/imports/{job.pk}/">small.csv</a>' in text(response)
    assert "<td>command line</td>" in text(response)


def test_posting_no_file_asks_for_one(as_staff):
    response = as_staff.post("/imports/", {})
    assert response.status_code == 400
    assert '<p class="error" role="alert">Choose a CSV file to upload.</p>' in text(response)
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "The file is empty: it needs a header row and at least one company."),
        (b"  \r\n\n ", "The file is empty: it needs a header row and at least one company."),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(1, 256)) * 4,
            "This looks like a binary file, not a CSV: export it from your spreadsheet as CSV.",
        ),
    ],
    ids=["empty", "blank", "binary"],
)
def test_an_unreadable_upload_is_refused_in_one_sentence(as_staff, content, message):
    response = upload(as_staff, content)
    assert response.status_code == 400
    assert f'<p class="error" role="alert">{message}</p>' in text(response)
    assert not ImportJob.objects.exists() and not Company.objects.exists()


def test_a_file_over_the_size_limit_is_refused(as_staff, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    big = PROSPECTS + "Filler Co,filler.com,Filler text,,,,,\n" * 50_000  # ~1.8 MB
    assert 1.7 * 1024 * 1024 < len(big) < 1.9 * 1024 * 1024
    response = upload(as_staff, big)
    assert response.status_code == 400
    assert (
        '<p class="error" role="alert">The file is 1.8 MB; the limit is 1 MB (IMPORT_MAX_UPLOAD_MB): '
        "split it into smaller files.</p>"
    ) in text(response)
    assert "Up to 1 MB." in text(response)
    assert not ImportJob.objects.exists() and not Company.objects.exists()


def test_the_size_message_never_says_the_file_is_as_big_as_the_limit(as_staff, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    response = upload(as_staff, "name,description\n" + "x" * int(1.2 * 1024 * 1024))
    assert response.status_code == 400
    stated = re.search(r"The file is ([\d.,]+) MB", text(response)).group(1)
    assert float(stated.replace(",", "")) > 1


def test_a_good_upload_leads_to_a_preview_with_the_suggested_mapping(as_staff):
    job = uploaded_job(as_staff)
    assert job.state == ImportJob.State.PENDING
    assert not Company.objects.exists()  # nothing is imported before confirmation
    response = as_staff.get(f"/imports/{job.pk}/")
    assert response.status_code == 200
    page = text(response)
    assert "<h1>Preview: prospects.csv</h1>" in page
    assert "About 4 rows." in page
    headers = ["company", "website", "about", "sector", "country", "employees", "pitch", "internal id"]
    assert re.findall(r"<th>([^<]*)</th>", page) == headers
    assert "<td>Hopfield Brewery</td><td>hopfield.com</td><td>Craft brewery making lager.</td>" in page
    assert "<td>Frostline</td>" in page
    assert selected_options(response) == {"encoding": "utf-8", "delimiter": ",", **SUGGESTED}
    assert "Keep as “employees”" in page and "Keep as “internal_id”" in page  # under the name kept
    assert '<select name="column-7" aria-label="Column internal id">' in page


def test_a_semicolon_utf16_file_is_detected(as_staff):
    content = "Company Name;Description;Country\nCafé Crème;Coffee, tea and cake;FR\n".encode("utf-16")
    job = uploaded_job(as_staff, content, "export.csv")
    assert (job.encoding, job.delimiter, job.headers) == ("utf-16", ";", ["Company Name", "Description", "Country"])
    response = as_staff.get(f"/imports/{job.pk}/")
    assert selected_options(response)["delimiter"] == ";"
    assert "<td>Café Crème</td><td>Coffee, tea and cake</td>" in text(response)
    assert "About 1 row." in text(response)


# --- reading again with another encoding or delimiter ------------------------------


def test_reading_again_with_another_delimiter_changes_headers_and_mapping(as_staff):
    job = uploaded_job(as_staff, "company;about;notes\nAcme;Anvils, rockets;good\nBeta;Bolts;\n")
    assert job.headers == ["company", "about", "notes"]
    response = as_staff.post(f"/imports/{job.pk}/", {"action": "reread", "encoding": "utf-8", "delimiter": ","})
    assert response.status_code == 302 and response["Location"] == f"/imports/{job.pk}/"
    job.refresh_from_db()
    assert (job.delimiter, job.headers, job.mapping) == (
        ",",
        ["company;about;notes"],
        {"0": "extra:company_about_notes"},
    )
    preview = as_staff.get(f"/imports/{job.pk}/")
    assert selected_options(preview)["delimiter"] == ","
    assert "<td>Acme;Anvils</td>" in text(preview)  # the comma inside a value splits it now

    as_staff.post(f"/imports/{job.pk}/", {"action": "reread", "encoding": "utf-8", "delimiter": ";"})
    job.refresh_from_db()
    assert (job.headers, job.mapping) == (
        ["company", "about", "notes"],
        {"0": "name", "1": "description", "2": "extra:notes"},
    )


def test_reading_again_with_another_encoding_changes_the_headers(as_staff):
    content = "Société,description\nCafé Crème,Coffee à la française\n".encode("cp1252")
    job = uploaded_job(as_staff, content)
    assert (job.encoding, job.headers) == ("cp1252", ["Société", "description"])
    as_staff.post(f"/imports/{job.pk}/", {"action": "reread", "encoding": "utf-8", "delimiter": ","})
    job.refresh_from_db()
    assert job.encoding == "utf-8"
    assert job.headers == ["Soci\ufffdt\ufffd", "description"]
    assert "<td>Caf\ufffd Cr\ufffdme</td>" in text(as_staff.get(f"/imports/{job.pk}/"))

    as_staff.post(f"/imports/{job.pk}/", {"action": "reread", "encoding": "cp1252", "delimiter": ","})
    job.refresh_from_db()
    assert (job.encoding, job.headers, job.mapping["1"]) == ("cp1252", ["Société", "description"], "description")
    response = as_staff.get(f"/imports/{job.pk}/")
    assert selected_options(response)["encoding"] == "cp1252"
    assert "<td>Café Crème</td><td>Coffee à la française</td>" in text(response)


@pytest.mark.parametrize(
    "encoding, delimiter, message",
    [
        ("klingon", ",", "Unknown encoding 'klingon': pick one of utf-8, utf-8-sig, utf-16"),
        ("utf-8", "#", "The delimiter must be a comma, semicolon, tab or pipe."),
    ],
)
def test_reading_again_with_an_unknown_dialect_says_what_to_pick(as_staff, encoding, delimiter, message):
    job = uploaded_job(as_staff)
    response = as_staff.post(f"/imports/{job.pk}/", {"action": "reread", "encoding": encoding, "delimiter": delimiter})
    assert response.status_code == 400
    assert message in text(response)
    assert 'role="alert"' in text(response)
    job.refresh_from_db()
    assert (job.encoding, job.delimiter, job.state) == ("utf-8", ",", ImportJob.State.PENDING)


def test_a_tab_delimiter_can_be_chosen(as_staff):
    job = uploaded_job(as_staff, "name\tdescription\nAcme\tAnvils, rockets\n")
    assert job.delimiter == "\t"
    as_staff.post(f"/imports/{job.pk}/", {"action": "reread", "encoding": "utf-8", "delimiter": ","})
    as_staff.post(f"/imports/{job.pk}/", {"action": "reread", "encoding": "utf-8", "delimiter": "\t"})
    job.refresh_from_db()
    assert (job.delimiter, job.headers) == ("\t", ["name", "description"])


# --- mapping and confirmation ------------------------------------------------------


def test_a_mapping_without_a_name_column_is_refused(as_staff):
    job = uploaded_job(as_staff)
    before = job.mapping
    response = confirm(as_staff, job, **{"column-0": "ignore"})
    assert response.status_code == 400
    assert "No column is the company name: call one column &#x27;name&#x27; or &#x27;company&#x27;." in (
        response.content.decode()
    )
    assert selected_options(response)["column-2"] == "description"
    job.refresh_from_db()
    assert (job.state, job.mapping) == (ImportJob.State.PENDING, before)


def test_a_mapping_to_an_unknown_field_is_refused(as_staff):
    job = uploaded_job(as_staff)
    response = confirm(as_staff, job, **{"column-3": "password"})
    assert response.status_code == 400
    assert "Column 'sector' cannot go to 'password'." in text(response)
    job.refresh_from_db()
    assert job.state == ImportJob.State.PENDING


def test_confirming_queues_the_import_once_and_the_worker_uses_the_chosen_mapping(
    as_staff, django_capture_on_commit_callbacks
):
    job = uploaded_job(as_staff)
    with django_capture_on_commit_callbacks() as queued:
        response = confirm(as_staff, job, **{"column-6": "description", "column-5": "ignore"})
    assert response.status_code == 302 and response["Location"] == f"/imports/{job.pk}/"
    assert len(queued) == 1  # one run_import task, sent once the transaction commits
    job.refresh_from_db()
    assert job.state == ImportJob.State.QUEUED
    assert job.mapping == {
        "0": "name",
        "1": "website",
        "2": "description",
        "3": "industry",
        "4": "country",
        "5": "ignore",
        "6": "description",
        "7": "extra:internal_id",
    }

    with django_capture_on_commit_callbacks() as queued_again:
        again = confirm(as_staff, job, **{"column-6": "ignore"})
    assert again.status_code == 302 and queued_again == []
    job.refresh_from_db()
    assert job.state == ImportJob.State.QUEUED and job.mapping["6"] == "description"
    assert "This import was already confirmed." in text(as_staff.get(f"/imports/{job.pk}/"))

    tasks.run_import(job.pk)  # what the worker runs
    job.refresh_from_db()
    assert (job.state, job.rows_read, job.created, job.rejected) == (ImportJob.State.DONE, 4, 3, 1)
    hopfield = Company.objects.get(name="Hopfield Brewery")
    assert hopfield.description == "Craft brewery making lager.\n\nLoves cold chains"
    assert hopfield.extra == {"internal_id": "H-1"}  # employees ignored, pitch went to the description
    assert (hopfield.website, hopfield.domain, hopfield.industry, hopfield.country) == (
        "hopfield.com",
        "hopfield.com",
        "Brewery",
        "GB",
    )
    assert hopfield.import_job == job
    assert not Company.objects.filter(extra__has_key="employees").exists()


def test_keeping_a_mapped_column_keeps_it_under_its_own_header(as_staff):
    job = uploaded_job(as_staff)
    response = as_staff.get(f"/imports/{job.pk}/")
    assert "Keep as “sector”" in text(response)  # what the select offers for the industry column
    confirm(as_staff, job, **{"column-3": "extra"})
    tasks.run_import(job.pk)
    assert Company.objects.get(name="Pixel Forge").extra == {
        "employees": "80",
        "pitch": "Big on CI",
        "internal_id": "P-2",
        "sector": "Software",
    }


# --- progress -------------------------------------------------------------------------


def test_progress_follows_the_import_then_the_embedding(as_staff, fake_encoder):
    job = uploaded_job(as_staff)
    pending = progress_json(as_staff, job)
    assert (pending["state"], pending["rows_read"], pending["rows_estimate"]) == ("pending", 0, 4)
    confirm(as_staff, job)

    queued = progress_json(as_staff, job)
    assert queued == {
        "state": "queued",
        "state_display": "Queued",
        "rows_read": 0,
        "rows_estimate": 4,
        "companies": 0,
        "embedded": 0,
        "scored": 0,
        "scoring": False,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "duplicates": 0,
        "rejected": 0,
        "labels": 0,
        "error": "",
        "finished": False,
    }
    page = as_staff.get(f"/imports/{job.pk}/")  # the progress page, not the preview, from now on
    assert '<strong data-field="state_display">Queued</strong>' in text(page)
    assert f'data-url="/imports/{job.pk}/progress"' in text(page)
    assert "leads/import-progress.js" in text(page)

    tasks.run_import(job.pk)
    imported = progress_json(as_staff, job)
    assert {k: imported[k] for k in ("state", "state_display", "rows_read", "companies", "created", "rejected")} == {
        "state": "done",
        "state_display": "Imported",
        "rows_read": 4,
        "companies": 3,
        "created": 3,
        "rejected": 1,
    }
    assert (imported["embedded"], imported["scoring"], imported["finished"]) == (0, False, False)

    assert len(embed_import(job)) == 3
    embedded = progress_json(as_staff, job)
    assert (embedded["embedded"], embedded["companies"], embedded["scored"]) == (3, 3, 0)
    assert (embedded["scoring"], embedded["finished"]) == (False, True)  # nothing labelled: nothing to score


def test_progress_waits_for_scores_when_the_file_has_labels(as_staff, fake_encoder):
    job = uploaded_job(as_staff, (FIXTURES / "small.csv").read_bytes(), "small.csv")
    confirm(as_staff, job)
    tasks.run_import(job.pk)
    embed_import(job)
    progress = progress_json(as_staff, job)
    assert (progress["companies"], progress["embedded"], progress["labels"]) == (6, 6, 2)
    assert progress["scoring"] is True
    assert progress["scored"] == 2  # only the labelled ones, which are never scored
    assert progress["finished"] is False
    assert scores.rescore_if_labels_changed() is True
    progress = progress_json(as_staff, job)
    assert (progress["scored"], progress["finished"]) == (6, True)


def test_the_progress_page_shows_counts_and_rejected_rows(as_staff, fake_encoder):
    job = uploaded_job(as_staff)
    confirm(as_staff, job)
    tasks.run_import(job.pk)
    embed_import(job)
    response = as_staff.get(f"/imports/{job.pk}/")
    assert response.status_code == 200
    page = text(response)
    assert "<h1>Import: prospects.csv</h1>" in page
    assert '<strong data-field="state_display">Imported</strong>' in page
    assert '<progress data-bar="rows" max="4" value="4">' in page
    assert '<progress data-bar="embedded" max="3" value="3">' in page
    assert 'Created <strong data-field="created">3</strong>' in page
    assert 'rejected <strong data-field="rejected">1</strong>' in page
    assert '<p data-show="finished">Done.' in page
    assert '<span class="muted" data-show="unscorable">' in page  # shown: nothing can be scored yet
    assert "<h2>Rejected rows</h2>" in page
    assert f'<a href="/imports/{job.pk}/rejected.csv">Download all 1 as CSV</a>' in page
    assert "<tr><td>5</td><td>the company name is empty: every row needs a name</td></tr>" in page

    download = as_staff.get(f"/imports/{job.pk}/rejected.csv")
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="prospects-rejected-rows.csv"'
    body = b"".join(download.streaming_content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(body))) == [
        ["line", "reason", "company", "website", "about", "sector", "country", "employees", "pitch", "internal id"],
        [
            "5",
            "the company name is empty: every row needs a name",
            "",
            "nameless.example",
            "A row without a name.",
            "Retail",
            "FR",
            "",
            "",
            "X-4",
        ],
    ]


def test_an_import_without_rejections_shows_no_rejected_rows(as_staff):
    job = uploaded_job(as_staff, "name,description\nAcme,Anvils\n")
    assert as_staff.get(f"/imports/{job.pk}/rejected.csv").status_code == 404  # not run yet
    confirm(as_staff, job)
    tasks.run_import(job.pk)
    page = text(as_staff.get(f"/imports/{job.pk}/"))
    assert 'rejected <strong data-field="rejected">0</strong>' in page
    assert "Rejected rows" not in page and "rejected.csv" not in page


def test_the_rejected_rows_of_an_import_without_rejections_are_not_found(as_staff):
    job = uploaded_job(as_staff, "name,description\nAcme,Anvils\n")
    confirm(as_staff, job)
    tasks.run_import(job.pk)
    assert as_staff.get(f"/imports/{job.pk}/rejected.csv").status_code == 404


def test_a_small_file_with_a_header_row_only_is_refused_on_upload(as_staff):
    response = upload(as_staff, "name,description\n")
    assert response.status_code == 400
    assert "The file has a header row but no companies under it" in text(response)
    assert not ImportJob.objects.exists()


# Too big for the upload's sample to see that no row follows: the import itself finds out.
EMPTY_ROWS_ONLY = "name,description\n" + ",\n" * 200_000


def test_an_import_that_finds_no_rows_fails_and_the_page_says_why(as_staff):
    job = uploaded_job(as_staff, EMPTY_ROWS_ONLY)
    assert confirm(as_staff, job).status_code == 302
    try:
        tasks.run_import(job.pk)
    except Exception:  # noqa: BLE001 - whether the task raises is the next test's business
        pass
    progress = progress_json(as_staff, job)
    assert progress["state"] == "failed"
    assert progress["error"] == "The file has a header row but no companies under it."
    assert progress["finished"] is True
    assert not Company.objects.exists()
    page = text(as_staff.get(f"/imports/{job.pk}/"))
    assert '<strong data-field="state_display">Failed</strong>' in page
    assert '<p class="error" data-field="error" role="alert">The file has a header row but no companies' in page


def test_a_failed_import_is_not_called_done(as_staff):
    job = uploaded_job(as_staff, EMPTY_ROWS_ONLY)
    confirm(as_staff, job)
    tasks.run_import(job.pk)
    assert '<p data-show="finished" hidden>Done.' in text(as_staff.get(f"/imports/{job.pk}/"))


def test_the_run_import_task_records_an_unreadable_file_without_raising(as_staff):
    job = uploaded_job(as_staff, EMPTY_ROWS_ONLY)
    confirm(as_staff, job)
    tasks.run_import(job.pk)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED


def test_progress_of_an_unknown_import_is_not_found(as_staff):
    assert as_staff.get("/imports/999999/progress").status_code == 404
    assert as_staff.get("/imports/999999/").status_code == 404
    assert as_staff.get("/imports/999999/rejected.csv").status_code == 404


# --- export ---------------------------------------------------------------------------


@pytest.fixture
def scored_world(fake_encoder, alice):
    made = {
        name: Company.objects.create(name=name, description=description, website=website, industry=industry)
        for name, description, website, industry in [
            ("Alpha Brewing", "beer brewery lager stout hops", "alphabrew.com", "Brewery"),
            ("=HYPERLINK(1) Brewing", "beer brewery ale hops malt", "", "Brewery"),
            ("Bravo Beers", "beer brewery lager ale hops malt", "bravobeers.com", "Brewery"),
            ("Delta Code", "software developer tools code review", "deltacode.io", "-Software"),
            ("Echo Review", "software code review tools", "echoreview.io", "Software"),
        ]
    }
    embeddings.embed_companies([c.pk for c in made.values()])
    labels.label_company(company=made["Alpha Brewing"], user=alice, verdict="like")
    labels.label_company(company=made["=HYPERLINK(1) Brewing"], user=alice, verdict="like")
    labels.label_company(company=made["Delta Code"], user=alice, verdict="dislike")
    assert scores.rescore_all() == 2
    return made


def export(client, **params) -> tuple[object, str, list[list[str]]]:
    response = client.get("/export.csv", params)
    assert response.status_code == 200
    assert response.streaming
    body = b"".join(response.streaming_content).decode("utf-8")
    return response, body, list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


def test_export_streams_the_filtered_view_as_excel_safe_csv(client, alice, scored_world):
    client.force_login(alice)
    response, body, rows = export(client, show="liked", q="brew")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="leads-scores-liked-\d{4}-\d\d-\d\d\.csv"', response["Content-Disposition"]
    )
    assert body.startswith("\ufeffid,name,website,industry,country,label,score,neighbours\r\n")
    assert rows[0] == ["id", "name", "website", "industry", "country", "label", "score", "neighbours"]
    by_name = {row[1]: row for row in rows[1:]}
    assert set(by_name) == {"Alpha Brewing", "'=HYPERLINK(1) Brewing"}  # liked and matching 'brew' only
    assert by_name["Alpha Brewing"][2:7] == ["alphabrew.com", "Brewery", "", "like", ""]  # labelled: no score


def test_export_scores_are_numbers_and_text_cells_are_neutralised(client, alice, scored_world):
    client.force_login(alice)
    _, _, rows = export(client, show="unlabelled")
    assert [row[1] for row in rows[1:]] == ["Bravo Beers", "Echo Review"]  # best score first
    bravo, echo = rows[1], rows[2]
    assert float(bravo[6]) > 0 > float(echo[6])
    assert re.fullmatch(r"-?\d\.\d+", echo[6])  # a negative number stays a number, not "'-0.4"
    assert "HYPERLINK(1) Brewing" in bravo[7] and not bravo[7].startswith(("=", "+", "-", "@"))
    _, _, rows = export(client, show="disliked")
    assert rows[1][1:4] == ["Delta Code", "deltacode.io", "'-Software"]


def test_export_refuses_an_unknown_filter_and_anonymous_visitors(client, alice):
    assert client.get("/export.csv").status_code == 302
    client.force_login(alice)
    response = client.get("/export.csv", {"show": "favourites"})
    assert response.status_code == 400
    assert "show must be one of: all, unlabelled, labelled, liked, disliked" in response.content.decode()


# --- the import_companies command --------------------------------------------------------


def command(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_companies", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def no_waiting(monkeypatch):
    """--follow sleeps while work is left; here nothing is left, so a sleep is a failure, not a hang."""

    def sleep(seconds):
        raise AssertionError("import_companies --follow would wait for work that should be done")

    monkeypatch.setattr("leads.management.commands.import_companies.time.sleep", sleep)


def test_the_command_prints_counts_and_rejected_lines(tmp_path):
    path = tmp_path / "prospects.csv"
    path.write_text(PROSPECTS)
    out, err = command(str(path), "--no-progress")
    job = ImportJob.objects.get()
    assert out.splitlines() == [
        f"Import #{job.pk}: prospects.csv (utf-8, comma)",
        "4 rows: 3 created, 0 updated, 0 unchanged, 0 duplicates merged, 1 rejected, 0 labels",
    ]
    assert err.splitlines()[0] == "  line 5: the company name is empty: every row needs a name"
    assert err.splitlines()[1].startswith("All 1 rejected rows, with the reason for each: ")
    assert err.splitlines()[1].endswith(f"rejected-{job.pk}.csv")
    assert job.user is None


def test_the_command_draws_a_progress_line_when_asked(tmp_path):
    path = tmp_path / "prospects.csv"
    path.write_text(PROSPECTS)
    out, _ = command(str(path))
    assert re.search(r"^Reading +100%  4 / 4 rows$", out, re.M)


def test_following_a_finished_import_prints_the_final_line(fake_encoder, no_waiting):
    job = imports.run_import(imports.create_job(path=FIXTURES / "small.csv"))
    embed_import(job)
    assert scores.rescore_if_labels_changed() is True
    out, _ = command("--follow", str(job.pk))
    assert out.splitlines() == ["Embedding   100%  6 / 6 companies", "Scored 6 of 6 companies."]


def test_following_an_import_with_nothing_to_score(tmp_path, fake_encoder, no_waiting):
    path = tmp_path / "prospects.csv"
    path.write_text(PROSPECTS)
    job = imports.run_import(imports.create_job(path=path))
    embed_import(job)
    out, _ = command("--follow", str(job.pk))
    assert out.splitlines()[-1] == "No company is labelled yet: like or dislike some to get scores."


def test_following_a_failed_import_says_why(tmp_path, no_waiting):
    path = tmp_path / "empty.csv"
    path.write_text(EMPTY_ROWS_ONLY)
    job = imports.create_job(path=path)
    with pytest.raises(Exception, match="no companies under it"):
        imports.run_import(job)
    with pytest.raises(CommandError, match=rf"Import #{job.pk} failed: The file has a header row but no companies"):
        command("--follow", str(job.pk))


def test_the_command_refuses_what_it_cannot_do(tmp_path, db):
    with pytest.raises(CommandError, match=r"^There is no import #999999\.$"):
        command("--follow", "999999")
    with pytest.raises(CommandError, match="Name the CSV file to import, or --follow JOB"):
        command()
    with pytest.raises(CommandError, match="no such file"):
        command(str(tmp_path / "missing.csv"))
    (tmp_path / "binary.csv").write_bytes(b"\x00\x01\x02 not a csv")
    with pytest.raises(CommandError, match="binary file"):
        command(str(tmp_path / "binary.csv"))
    assert not ImportJob.objects.exists()


def test_the_progress_bar_writes_a_line_every_tenth_to_a_file():
    stream = io.StringIO()
    bar = ProgressBar(stream, "Reading", "rows")
    for done in range(1, 101):
        bar.update(done, 100)
    bar.finish()
    lines = stream.getvalue().splitlines()
    assert 10 <= len(lines) <= 11
    assert "\r" not in stream.getvalue()
    assert lines[-1] == "Reading     100%  100 / 100 rows"
    assert [int(re.search(r"(\d+)%", line).group(1)) // 10 for line in lines] == sorted(
        {int(re.search(r"(\d+)%", line).group(1)) // 10 for line in lines}
    )


def test_an_estimated_total_is_marked_approximate():
    stream = io.StringIO()
    ProgressBar(stream, "Reading", "rows").update(50, 1000, approximate=True)
    assert stream.getvalue() == "Reading       5%  50 / ~1,000 rows\n"
