"""The staff import pages up to the import itself, through Django's test client: who may
see them, the upload, the preview, reading the file again with another encoding or
delimiter, and the mapping form that confirms the import.

Real database throughout; the worker's part is played by calling the task function
directly (leads.tasks.run_import)."""

from __future__ import annotations

import re

import pytest

from leads import tasks
from leads.imports import csvfiles
from leads.imports import services as imports
from leads.models import Company, ImportJob
from tests.conftest import FIXTURES
from tests.import_helpers import PROSPECTS, confirm, text, upload, uploaded_job

pytestmark = pytest.mark.django_db

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


def selected_options(response) -> dict[str, str]:
    """Each <select>'s name and the value of its selected option."""
    return {
        name: (re.findall(r'<option value="([^"]*)" selected>', options) or [None])[0]
        for name, options in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', response.content.decode(), re.S)
    }


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
        assert response["Location"] == f"/accounts/login/?next={path}"


def test_import_pages_are_closed_to_sales_reps(client, alice, job):
    client.force_login(alice)
    for path in _paths(job):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Sales managers" in text(response)  # says which role to ask for
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
    assert '<p class="error" role="alert">Choose a CSV or Excel file to upload.</p>' in text(response)
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
    assert "Detected from the file. 4 rows." in page  # counted: a small file
    headers = ["company", "website", "about", "sector", "country", "employees", "pitch", "internal id"]
    assert re.findall(r"<th>([^<]*)</th>", page) == headers
    assert "<td>Hopfield Brewery</td><td>hopfield.com</td><td>Craft brewery making lager.</td>" in page
    assert "<td>Frostline</td>" in page
    assert selected_options(response) == {"encoding": "utf-8", "delimiter": ",", "crm": "", **SUGGESTED}
    assert "Keep as “employees”" in page and "Keep as “internal_id”" in page  # under the name kept
    assert '<select name="column-7" aria-label="Column internal id">' in page


def mapping_lines(page: str) -> dict[str, list[str]]:
    """The preview's mapping, a line per column: its header -> the values shown beside its dropdown."""
    lines = re.findall(r'<th scope="row">([^<]*)</th>\s*<td class="values">(.*?)</td>', page, re.S)
    return {header: re.findall(r"<span(?: class=\"muted\")?>([^<]*)</span>", values) for header, values in lines}


def test_the_mapping_is_a_line_per_column_with_its_first_values_beside_its_dropdown(as_staff):
    content = "name,description,size,notes\nAcme,Anvils,,\nGlobex,Globes,5,\nInitech,Software,7,\nUmbrella,Pharma,9,\nHooli,Search,11,\n"
    job = uploaded_job(as_staff, content, "sizes.csv")
    page = text(as_staff.get(f"/imports/{job.pk}/"))
    assert mapping_lines(page) == {
        "name": ["Acme", "Globex", "Initech"],
        "description": ["Anvils", "Globes", "Software"],
        "size": ["5", "7", "9"],  # the first three that say something
        "notes": ["empty in the first rows"],
    }
    line = page.split('<th scope="row">size</th>')[1].split("</tr>")[0]
    assert '<select name="column-2" aria-label="Column size">' in line  # on the column's own line
    assert "<td>Hooli</td><td>Search</td><td>11</td>" in page  # every previewed row, whole, below


def test_a_semicolon_utf16_file_is_detected(as_staff):
    content = "Company Name;Description;Country\nCafé Crème;Coffee, tea and cake;FR\n".encode("utf-16")
    job = uploaded_job(as_staff, content, "export.csv")
    assert (job.encoding, job.delimiter, job.headers) == ("utf-16", ";", ["Company Name", "Description", "Country"])
    response = as_staff.get(f"/imports/{job.pk}/")
    assert selected_options(response)["delimiter"] == ";"
    assert "<td>Café Crème</td><td>Coffee, tea and cake</td>" in text(response)
    assert "Detected from the file. 1 row." in text(response)


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
    assert "No column is the company name: choose the column that holds it in the dropdowns" in text(response)
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


# --- two columns for one field, reading again with choices, cancelling -----------


def test_two_columns_mapped_to_the_name_are_refused_and_every_choice_is_kept(as_staff):
    job = uploaded_job(as_staff)
    before = job.mapping
    response = confirm(as_staff, job, **{"column-1": "name", "column-3": "ignore", "column-6": "ignore"})
    assert response.status_code == 400
    assert "Two columns are mapped to name (“company”, “website”): choose one" in text(response)
    # The page shows what the user chose, not the suggestion: nothing they did is lost.
    chosen = selected_options(response)
    assert (chosen["column-0"], chosen["column-1"], chosen["column-3"], chosen["column-6"]) == (
        "name",
        "name",
        "ignore",
        "ignore",
    )
    job.refresh_from_db()
    assert (job.state, job.mapping) == (ImportJob.State.PENDING, before)
    assert not Company.objects.exists()


def test_several_description_columns_are_still_combined_but_two_websites_are_not():
    # to_record combines description columns; a second website would be dropped row by row.
    csvfiles.check_mapping({0: "name", 1: "description", 2: "description"}, ["Name", "Short", "Long"])
    with pytest.raises(csvfiles.UnreadableFile, match="Two columns are mapped to website"):
        csvfiles.check_mapping({0: "name", 1: "description", 2: "website", 3: "website"}, ["N", "D", "W", "Home"])
    with pytest.raises(csvfiles.UnreadableFile, match=r"3 columns are mapped to CRM record id \(“A”, “B”, “C”\)"):
        csvfiles.check_mapping({0: "crm_id", 1: "crm_id", 2: "crm_id", 3: "name"}, ["A", "B", "C", "N"])


def test_reading_again_keeps_the_choices_for_the_columns_whose_headers_stay(as_staff):
    job = uploaded_job(as_staff, "company,about,sector,Größe\nAcme,Anvils for roadrunners,Tools,12\n")
    assert job.column_mapping()[2] == "industry"
    page = text(as_staff.get(f"/imports/{job.pk}/"))
    assert '<button type="submit" form="mapping-form" name="action" value="reread" formnovalidate>' in page
    # The user sets sector to ignore in the dropdown, then reads the file again as Latin-1.
    chosen = {"column-0": "name", "column-1": "description", "column-2": "ignore", "column-3": "ignore"}
    response = as_staff.post(
        f"/imports/{job.pk}/", {"action": "reread", "encoding": "latin-1", "delimiter": ",", **chosen}
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.headers == ["company", "about", "sector", "Größe".encode().decode("latin-1")]
    # Unchanged headers keep the user's choice; the changed one gets a fresh suggestion.
    mapping = job.column_mapping()
    assert (mapping[0], mapping[1], mapping[2]) == ("name", "description", "ignore")
    assert mapping[3].startswith("extra:")


def test_reading_again_without_choices_on_the_page_keeps_the_saved_ones(as_staff):
    job = uploaded_job(as_staff, "company,about,sector\nAcme,Anvils for roadrunners,Tools\n")
    imports.change_mapping(job, {0: "name", 1: "description", 2: "extra:sector"})
    imports.change_dialect(job, encoding="utf-8", delimiter=",")
    job.refresh_from_db()
    assert job.column_mapping() == {0: "name", 1: "description", 2: "extra:sector"}


def test_cancel_removes_the_waiting_import_and_its_file(as_staff, django_capture_on_commit_callbacks):
    job = uploaded_job(as_staff)
    storage, name = job.file.storage, job.file.name
    assert storage.exists(name)
    page = text(as_staff.get(f"/imports/{job.pk}/"))
    assert '<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = as_staff.post(f"/imports/{job.pk}/", {"action": "cancel"}, follow=True)
    assert response.redirect_chain == [("/imports/", 302)]
    assert "The import of prospects.csv was cancelled and its file deleted." in text(response)
    assert not ImportJob.objects.exists() and not storage.exists(name)
    assert "Waiting for confirmation" not in text(response)  # gone from Recent imports


def test_an_import_already_confirmed_is_not_cancelled(as_staff, django_capture_on_commit_callbacks):
    job = uploaded_job(as_staff)
    with django_capture_on_commit_callbacks():
        confirm(as_staff, job)
    response = as_staff.post(f"/imports/{job.pk}/", {"action": "cancel"}, follow=True)
    assert response.redirect_chain == [(f"/imports/{job.pk}/", 302)]
    assert "already confirmed, so it cannot be cancelled" in text(response)
    job.refresh_from_db()
    assert job.state == ImportJob.State.QUEUED and job.file.storage.exists(job.file.name)


# --- messages that say where the fix is ------------------------------------------------


def test_a_file_with_only_a_website_says_to_choose_the_columns_in_the_dropdowns(as_staff):
    job = uploaded_job(as_staff, "Website\nhttps://icepanel.io\nhttps://magicflow.ai\n", "website_only.csv")
    page = text(as_staff.get(f"/imports/{job.pk}/"))
    assert "No column is the company name or the description: choose the columns that hold them in the dropdowns" in (
        page
    )
    assert "header row needs" not in page


def test_a_small_file_with_one_huge_cell_counts_its_rows(as_staff, settings):
    settings.IMPORT_MAX_FIELD_CHARS = 3_000_000
    huge = (
        "name,website,description\n" + f"Huge Cell Co,hugecell.example,{'word ' * 400_000}\nNormal Co,n.example,Pay\n"
    )
    job = uploaded_job(as_staff, huge, "huge.csv")
    assert job.rows_estimate == 2
    assert "Detected from the file. 2 rows." in text(as_staff.get(f"/imports/{job.pk}/"))


def test_the_preview_shows_no_template_comment(as_staff):
    page = text(as_staff.get(f"/imports/{uploaded_job(as_staff).pk}/"))
    assert "{#" not in page and "#}" not in page and "Read again submits" not in page
