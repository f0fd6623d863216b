"""CSV import into the real embedded Postgres."""

import shutil

import pytest

from leads.companies.identity import embedding_text, text_hash
from leads.imports import jobs, loading
from leads.imports import services as imports
from leads.models import FIRST_PROFILE_ID, Company, ImportJob, Label
from tests.conftest import FIXTURES

pytestmark = pytest.mark.django_db


def run(path, user=None):
    return imports.run_import(imports.create_job(path=path, user=user))


def test_it_imports_good_rows_and_reports_bad_ones_by_line(alice):
    job = run(FIXTURES / "small.csv", alice)
    assert job.state == ImportJob.State.DONE
    assert (job.rows_read, job.created, job.rejected) == (7, 6, 1)
    assert job.rejected_rows[0]["line"] == 8
    assert "name is empty" in job.rejected_rows[0]["reason"]
    assert sorted(Company.objects.values_list("name", flat=True)) == [
        "Frostline Logistics",
        "Hopfield Brewery",
        "Ledgerly",
        "Malt & Barrel",
        "Nameless Co",
        "Pixel Forge",
    ]
    hopfield = Company.objects.get(name="Hopfield Brewery")
    assert (hopfield.domain, hopfield.extra) == ("hopfield-brewery.com", {"employees": "40"})
    assert Company.objects.get(name="Nameless Co").description == ""
    assert job.rejected_file.read().decode("utf-8-sig").splitlines()[1].startswith("8,the company name is empty")


def test_the_label_column_imports_verdicts_into_the_history(alice):
    job = run(FIXTURES / "small.csv", alice)
    assert job.labels == 2
    labelled = Company.objects.in_profile(FIRST_PROFILE_ID).labelled(FIRST_PROFILE_ID)
    assert dict(labelled.values_list("name", "verdict")) == {
        "Hopfield Brewery": "like",
        "Pixel Forge": "dislike",
    }
    assert Label.objects.filter(user=alice).count() == 2


def test_the_text_hash_written_in_sql_equals_the_python_one():
    run(FIXTURES / "small.csv")
    for company in Company.objects.all():
        expected = text_hash(
            embedding_text(name=company.name, description=company.description, industry=company.industry)
        )
        assert company.text_hash == expected, company.name


def test_reimporting_the_same_file_changes_nothing(tmp_path):
    run(FIXTURES / "small.csv")
    before = dict(Company.objects.values_list("pk", "updated_at"))
    job = run(FIXTURES / "small.csv")
    assert (job.created, job.updated, job.unchanged, job.labels) == (0, 0, 6, 0)
    assert dict(Company.objects.values_list("pk", "updated_at")) == before


def test_reimporting_updates_changed_fields_and_keeps_what_an_empty_cell_does_not_say(tmp_path):
    run(FIXTURES / "small.csv")
    changed = tmp_path / "changed.csv"
    changed.write_text(
        "company,domain,about,sector\n"
        "Hopfield Brewery,hopfield-brewery.com,Now also brews cider.,\n"
        "Ledgerly,ledgerly.com,,Fintech\n"
    )
    job = run(changed)
    assert (job.created, job.updated, job.unchanged) == (0, 2, 0)
    hopfield = Company.objects.get(domain="hopfield-brewery.com")
    assert (hopfield.description, hopfield.industry) == ("Now also brews cider.", "Brewery")
    ledgerly = Company.objects.get(domain="ledgerly.com")
    assert ledgerly.industry == "Fintech"
    assert ledgerly.description.startswith("Accounting software")
    assert ledgerly.text_hash == text_hash(ledgerly.text)


def test_duplicates_inside_a_file_are_merged_and_counted(tmp_path):
    path = tmp_path / "dupes.csv"
    path.write_text(
        "name,website,description,country\n"
        "Acme,https://acme.com,First description,US\n"
        "ACME Inc,www.acme.com/,,\n"
        "Solo,,Only once,FR\n"
        "Acme again,acme.com,Second description,\n"
    )
    job = run(path)
    assert (job.created, job.duplicates) == (2, 2)
    acme = Company.objects.get(domain="acme.com")
    assert (acme.name, acme.description, acme.country) == ("Acme again", "Second description", "US")


def test_a_failure_half_way_leaves_nothing_behind(monkeypatch):
    run(FIXTURES / "small.csv")
    original = loading._staging_row
    calls = {"n": 0}

    def failing(record):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return original(record)

    monkeypatch.setattr(loading, "_staging_row", failing)
    job = imports.create_job(path=FIXTURES / "small.csv")
    Company.objects.filter(name="Ledgerly").update(description="edited by hand")
    before = sorted(Company.objects.values_list("name", "description"))
    with pytest.raises(jobs.ImportFailed, match="nothing of it was kept"):
        imports.run_import(job)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED and "disk full" in job.error
    assert sorted(Company.objects.values_list("name", "description")) == before


def test_a_file_without_a_name_column_is_refused_in_one_sentence(tmp_path):
    path = tmp_path / "nameless.csv"
    path.write_text("website,description\nacme.com,Anvils\n")
    with pytest.raises(Exception, match="No column is the company name"):
        run(path)


def test_import_companies_command_prints_counts_and_rejections(tmp_path, capsys):
    from django.core.management import call_command

    shutil.copy(FIXTURES / "small.csv", tmp_path / "prospects.csv")
    call_command("import_companies", str(tmp_path / "prospects.csv"), "--no-progress")
    out, err = capsys.readouterr()
    assert "7 rows: 6 created, 0 updated, 0 unchanged, 0 duplicates merged, 1 rejected, 2 labels" in out
    assert "line 8: the company name is empty" in err


# --- one form for websites ----------------------------------------------------------


def test_websites_keep_their_address_and_lists_show_their_domain(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "name,website,description\n"
        "Nordkyl,https://www.nordkyl.se,Cold rooms.\n"
        "Sunbay Dental,sunbaydental.com,Dentists.\n"
        "Nowhere Co,n/a,No site.\n"
    )
    job = run(path)
    assert (job.created, job.rejected) == (3, 0)
    assert sorted(Company.objects.values_list("name", "website", "domain")) == [
        ("Nordkyl", "https://www.nordkyl.se", "nordkyl.se"),
        ("Nowhere Co", "", ""),  # a placeholder is no website, not a website called 'n/a'
        ("Sunbay Dental", "sunbaydental.com", "sunbaydental.com"),
    ]


@pytest.mark.parametrize("bare", ["https://", "http://", "https://www.", "www."])
def test_a_bare_https_in_the_website_cell_is_no_website_and_keeps_the_row(tmp_path, bare):
    path = tmp_path / "bare.csv"
    path.write_text(f"name,website,country,description\nAcme,{bare},Norway,Anvils.\n")
    job = run(path)
    assert (job.created, job.rejected, job.rejected_rows) == (1, 0, [])
    acme = Company.objects.get()
    assert (acme.name, acme.website, acme.domain) == ("Acme", "", "")


# --- countries in one form ------------------------------------------------------------


def test_countries_are_stored_as_codes_with_what_the_file_said_kept(tmp_path):
    path = tmp_path / "countries.csv"
    path.write_text(
        "name,website,country,description\n"
        "Anna,anna.de,Germany,x\nBerta,berta.de,germany,x\nCarla,carla.de,DE,x\nDora,dora.de,DEU,x\n"
        "Emma,emma.de,Deutschland,x\nFrida,frida.no,Norway,x\nGina,gina.uk,UK,x\nHana,hana.kr,Korea,x\n"
    )
    assert run(path).created == 8
    assert sorted(Company.objects.values_list("name", "country", "country_as_given")) == [
        ("Anna", "DE", "Germany"),
        ("Berta", "DE", "germany"),
        ("Carla", "DE", "DE"),
        ("Dora", "DE", "DEU"),
        ("Emma", "DE", "Deutschland"),
        ("Frida", "NO", "Norway"),
        ("Gina", "GB", "UK"),
        ("Hana", "Korea", "Korea"),  # North or South: kept as given, not guessed
    ]
    assert Company.objects.get(name="Gina").country_name == "United Kingdom"


def test_a_company_without_a_website_is_one_company_whichever_way_its_country_is_written(tmp_path):
    path = tmp_path / "first.csv"
    path.write_text("name,country,description\nAcme GmbH,Germany,Anvils.\n")
    run(path)
    path.write_text("name,country,description\nACME,DE,Anvils and hammers.\n")
    job = run(path)
    assert (job.created, job.updated) == (0, 1)
    acme = Company.objects.get()
    assert (acme.country, acme.country_as_given, acme.description) == ("DE", "DE", "Anvils and hammers.")
