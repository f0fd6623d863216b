"""What follows a confirmed import: the progress JSON and the progress page, the rejected
rows download, imports that fail, and the import_companies command that does the same
from the command line.

Real database throughout; the worker's part is played by calling the task functions
directly (leads.tasks.run_import) and embedding with the fake bag-of-words encoder."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.management import CommandError, call_command

from leads import tasks
from leads.embedding import services as embeddings
from leads.imports import services as imports
from leads.imports import tabular
from leads.management.progress import ProgressBar
from leads.models import Company, ImportJob
from leads.scoring import services as scores
from tests.conftest import FIXTURES
from tests.csv_helpers import xlsx_bytes
from tests.import_helpers import PROSPECTS, confirm, text, upload, uploaded_job

pytestmark = pytest.mark.django_db


def progress_json(client, job: ImportJob) -> dict:
    response = client.get(f"/imports/{job.pk}/progress")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return response.json()


def embed_import(job: ImportJob) -> list[int]:
    return embeddings.embed_and_score(Company.objects.filter(import_job=job).values_list("pk", flat=True))


def imported_job(client, content: bytes | str = PROSPECTS, name: str = "prospects.csv") -> ImportJob:
    """Upload, confirm the suggested mapping and run the import as the worker would."""
    job = uploaded_job(client, content, name)
    confirm(client, job)
    tasks.run_import(job.pk)
    return job


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
        "rows_exact": True,  # "0 of 4": a small file's rows were counted on upload
        "rows_counted": False,  # "4 rows" once the import has read the file
        "rows_estimate": 4,
        "rows_word": "rows",
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
        "unreadable": "",
        "no_description": "",
        "crm": "",  # no CRM record ids
        "error": "",
        "finished": False,
        "switch_target": "",  # no switch_model under way
        "switch_embedded": 0,
        "switch_total": 0,
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
    job = imported_job(as_staff, (FIXTURES / "small.csv").read_bytes(), "small.csv")
    embed_import(job)
    progress = progress_json(as_staff, job)
    assert (progress["companies"], progress["embedded"], progress["labels"]) == (6, 6, 2)
    assert progress["scoring"] is True
    assert progress["scored"] == 6  # the new companies are scored as they are embedded...
    assert progress["finished"] is False  # ...but the imported verdicts still wait for their rescore
    assert scores.catch_up() == 4
    progress = progress_json(as_staff, job)
    assert (progress["scored"], progress["finished"]) == (6, True)


def test_the_progress_page_shows_counts_and_rejected_rows(as_staff, fake_encoder):
    job = imported_job(as_staff)
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


def rows_shown(page: str) -> str:
    """What the progress page says of the rows read, as a reader sees it (hidden parts left out)."""
    row = re.search(r"<span>Rows read</span>.*?</div>", page, re.S).group(0)
    row = re.sub(r'<span data-show="[\w-]+" hidden>.*?</span></span>', "", row)
    return re.sub(r"<[^>]+>", "", row.split("</progress>")[1]).strip()


def test_a_small_file_s_rows_are_counted_in_every_state(as_staff, fake_encoder):
    job = uploaded_job(as_staff)
    pending = progress_json(as_staff, job)
    assert (pending["rows_exact"], pending["rows_counted"], pending["rows_estimate"]) == (True, False, 4)
    confirm(as_staff, job)
    queued = progress_json(as_staff, job)
    assert (queued["state"], queued["rows_exact"], queued["rows_counted"]) == ("queued", True, False)
    assert rows_shown(text(as_staff.get(f"/imports/{job.pk}/"))) == "0 of 4"  # not "0 of about 4"

    job.state, job.rows_read = ImportJob.State.RUNNING, 2  # a worker halfway through
    job.save()
    assert rows_shown(text(as_staff.get(f"/imports/{job.pk}/"))) == "2 of 4"

    tasks.run_import(job.pk)
    done = progress_json(as_staff, job)
    assert (done["rows_read"], done["rows_exact"], done["rows_counted"], done["rows_estimate"]) == (4, True, True, 4)
    assert done["rows_word"] == "rows"
    assert rows_shown(text(as_staff.get(f"/imports/{job.pk}/"))) == "4 rows"  # no "4 of 4" nor "4 of about 4"


def test_a_large_file_s_rows_are_estimated_until_imported(as_staff, fake_encoder, monkeypatch):
    monkeypatch.setattr(tabular, "EXACT_COUNT_BYTES", 100)  # prospects.csv (a few hundred bytes) counts as large
    job = uploaded_job(as_staff)
    confirm(as_staff, job)
    queued = progress_json(as_staff, job)
    assert (queued["rows_exact"], queued["rows_counted"], queued["rows_estimate"]) == (False, False, 4)
    assert rows_shown(text(as_staff.get(f"/imports/{job.pk}/"))) == "0 of about 4"

    tasks.run_import(job.pk)
    done = progress_json(as_staff, job)
    assert (done["rows_exact"], done["rows_counted"], done["rows_estimate"]) == (True, True, 4)
    assert rows_shown(text(as_staff.get(f"/imports/{job.pk}/"))) == "4 rows"


def test_a_workbook_s_rows_are_about_what_its_sheet_declares_until_imported(as_staff):
    rows = [["Name", "Description"], ["Acme", "Anvils."], ["Globex", "Globes."]]
    job = uploaded_job(as_staff, xlsx_bytes({"Leads": rows}), "leads.xlsx")
    confirm(as_staff, job)
    assert progress_json(as_staff, job)["rows_exact"] is False  # a sheet's declared size can include empty rows
    assert rows_shown(text(as_staff.get(f"/imports/{job.pk}/"))) == "0 of about 2"


def test_one_row_is_one_row(as_staff):
    job = imported_job(as_staff, "name,description\nAcme,Anvils\n")
    assert progress_json(as_staff, job)["rows_word"] == "row"


def test_the_finished_page_opens_the_import_s_own_companies(as_staff, fake_encoder):
    Company.objects.create(name="Older Co", description="Imported long ago.")
    job = imported_job(as_staff)
    embed_import(job)
    page = text(as_staff.get(f"/imports/{job.pk}/"))
    link = f'<a href="/?import={job.pk}" data-import-companies>See the 3 companies this import created or changed</a>'
    assert link in page
    listed = text(as_staff.get(f"/?import={job.pk}"))
    assert "Hopfield Brewery" in listed and "Older Co" not in listed
    assert f"Only import {job.pk}: prospects.csv" in listed


def test_an_import_keeps_its_companies_after_a_later_import_changes_them(as_staff, fake_encoder):
    """A later file that changes Frostline's description and adds a company: the first import
    still opens, counts and embeds its three (Company.import_job alone named the last import, and
    the first import's list lost Frostline)."""
    first = imported_job(as_staff)
    embed_import(first)
    later_csv = (
        "company,website,about\nFrostline,frostline.io,Refrigerated trucks and cold stores.\n"
        "Kesselberg,kesselberg.de,A brewery in the Alps.\n"
    )
    response = upload(as_staff, later_csv, "later.csv")
    later = ImportJob.objects.get(pk=int(re.search(r"/imports/(\d+)/", response["Location"])[1]))
    confirm(as_staff, later)
    tasks.run_import(later.pk)
    later.refresh_from_db()
    assert (later.created, later.updated) == (1, 1)
    assert Company.objects.get(name="Frostline").import_job == later  # the last import that touched it

    assert progress_json(as_staff, first)["companies"] == 3
    assert "See the 3 companies this import created or changed" in text(as_staff.get(f"/imports/{first.pk}/"))
    listed = text(as_staff.get(f"/?import={first.pk}"))
    assert all(name in listed for name in ("Hopfield Brewery", "Pixel Forge", "Frostline")), listed
    assert "Kesselberg" not in listed
    assert progress_json(as_staff, later)["companies"] == 2
    assert sorted(Company.objects.of_import(later.pk).values_list("name", flat=True)) == ["Frostline", "Kesselberg"]


def test_a_re_import_that_changed_nothing_says_so_instead_of_an_empty_list(as_staff, fake_encoder):
    first = imported_job(as_staff)
    embed_import(first)
    response = upload(as_staff, PROSPECTS, "again.csv")
    second = ImportJob.objects.get(pk=int(re.search(r"/imports/(\d+)/", response["Location"])[1]))
    confirm(as_staff, second)
    tasks.run_import(second.pk)
    second.refresh_from_db()
    assert (second.created, second.updated) == (0, 0)
    page = text(as_staff.get(f"/imports/{second.pk}/"))
    assert "This import created or changed no company" in page and f"?import={second.pk}" not in page


def test_an_import_without_rejections_shows_no_rejected_rows(as_staff):
    job = uploaded_job(as_staff, "name,description\nAcme,Anvils\n")
    assert as_staff.get(f"/imports/{job.pk}/rejected.csv").status_code == 404  # not run yet
    confirm(as_staff, job)
    tasks.run_import(job.pk)
    page = text(as_staff.get(f"/imports/{job.pk}/"))
    assert 'rejected <strong data-field="rejected">0</strong>' in page
    assert "Rejected rows" not in page and "rejected.csv" not in page


def test_the_rejected_rows_of_an_import_without_rejections_are_not_found(as_staff):
    job = imported_job(as_staff, "name,description\nAcme,Anvils\n")
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
    job = imported_job(as_staff, EMPTY_ROWS_ONLY)
    assert '<p data-show="finished" hidden>Done.' in text(as_staff.get(f"/imports/{job.pk}/"))


def test_the_run_import_task_records_an_unreadable_file_without_raising(as_staff):
    job = imported_job(as_staff, EMPTY_ROWS_ONLY)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED


def test_progress_of_an_unknown_import_is_not_found(as_staff):
    assert as_staff.get("/imports/999999/progress").status_code == 404
    assert as_staff.get("/imports/999999/").status_code == 404
    assert as_staff.get("/imports/999999/rejected.csv").status_code == 404


# --- the import_companies command --------------------------------------------------------


def command(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_companies", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def prospects_csv(tmp_path):
    path = tmp_path / "prospects.csv"
    path.write_text(PROSPECTS)
    return path


@pytest.fixture
def no_waiting(monkeypatch):
    """--follow sleeps while work is left; here nothing is left, so a sleep is a failure, not a hang."""

    def sleep(seconds):
        raise AssertionError("import_companies --follow would wait for work that should be done")

    monkeypatch.setattr("leads.management.commands.import_companies.time.sleep", sleep)


def test_the_command_prints_counts_and_rejected_lines(prospects_csv):
    out, err = command(str(prospects_csv), "--no-progress")
    job = ImportJob.objects.get()
    assert out.splitlines() == [
        f"Import #{job.pk}: prospects.csv (utf-8, comma)",
        "4 rows: 3 created, 0 updated, 0 unchanged, 0 duplicates merged, 1 rejected, 0 labels",
    ]
    assert err.splitlines()[0] == "  line 5: the company name is empty: every row needs a name"
    assert err.splitlines()[1].startswith("All 1 rejected rows, with the reason for each: ")
    assert err.splitlines()[1].endswith(f"rejected-{job.pk}.csv")
    assert job.user is None


def test_the_command_draws_a_progress_line_when_asked(prospects_csv):
    out, _ = command(str(prospects_csv))
    assert re.search(r"^Reading +100%  4 / 4 rows$", out, re.M)


def test_following_a_finished_import_prints_the_final_line(fake_encoder, no_waiting):
    job = imports.run_import(imports.create_job(path=FIXTURES / "small.csv"))
    embed_import(job)
    assert scores.catch_up() == 4
    out, _ = command("--follow", str(job.pk))
    assert out.splitlines() == ["Embedding   100%  6 / 6 companies", "Scored 6 of 6 companies."]


def test_following_an_import_with_nothing_to_score(prospects_csv, fake_encoder, no_waiting):
    job = imports.run_import(imports.create_job(path=prospects_csv))
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
    with pytest.raises(CommandError, match="Name the CSV or Excel file to import, or --follow JOB"):
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


def test_the_report_says_how_many_companies_came_without_a_description(as_staff, fake_encoder):
    job = imported_job(
        as_staff,
        "name,description\nAcme,Anvils and rockets\nBeta Bolts,\nGamma,\n",
    )
    assert progress_json(as_staff, job)["no_description"] == (
        "2 companies have no description: kept, and scored from the name and industry only (flagged “name only”"
        " beside the fit) until an import or an edit gives one."
    )
    page = text(as_staff.get(f"/imports/{job.pk}/"))
    assert '<p class="muted" id="no-description" data-field="no_description">2 companies have no description' in page
    assert Company.objects.filter(import_job=job).count() == 3  # kept, as the README says


def test_an_import_where_every_company_has_a_description_says_nothing_of_it(as_staff):
    job = imported_job(as_staff, "name,description\nAcme,Anvils and rockets\n")
    assert progress_json(as_staff, job)["no_description"] == ""
