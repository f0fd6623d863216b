"""Files as real tools export them, none with our alias spellings, imported end to end into the real
embedded Postgres: the headers of eight CRMs and data vendors (English, German, French, Spanish),
a file whose headers say nothing ("col1", "col2", ...) whose columns are found by their values,
and a tie that is refused with a sentence saying how to choose."""

from __future__ import annotations

import pytest

from leads.crm import columns as crm_columns
from leads.imports import csvfiles
from leads.imports import services as imports
from leads.models import Company
from tests.csv_helpers import co, companies, csv_text, expect, import_bytes, write_file

pytestmark = pytest.mark.django_db

ACME = ("Acme Anvils", "https://www.acme-anvils.com/", "Forged anvils for smiths.", "Manufacturing", "US")
BETA = ("Beta Bolts", "betabolts.de", "Schrauben für Brücken.", "Hardware", "DE")
EXPECTED = expect(
    co("Acme Anvils", "acme-anvils.com", "Forged anvils for smiths.", industry="Manufacturing", country="US"),
    co("Beta Bolts", "betabolts.de", "Schrauben für Brücken.", industry="Hardware", country="DE"),
)
FIELDS = ("name", "website", "description", "industry", "country")

# Each tool's headers: the five fields' columns (in FIELDS order) among columns we keep as extra.
VENDORS = {
    "hubspot": (
        ["Record ID", "Company name", "Company Domain Name", "About Us", "Industry", "Country/Region", "Company owner"],
        [1, 2, 3, 4, 5],
    ),
    "salesforce": (
        ["Account ID", "Account Name", "Website", "Account Description", "Industry", "Billing Country", "Account Type"],
        [1, 2, 3, 4, 5],
    ),
    "apollo": (
        [
            "Company",
            "Company Name for Emails",
            "Website",
            "SEO Description",
            "Industry",
            "Company Country",
            "# Employees",
        ],
        [0, 2, 3, 4, 5],
    ),
    "crunchbase": (
        [
            "Organization Name",
            "Organization Name URL",
            "Full Description",
            "Industries",
            "Headquarters Country",
            "Website",
        ],
        [0, 5, 2, 3, 4],
    ),
    "zoominfo": (
        [
            "ZoomInfo Company ID",
            "Company Name",
            "Company Website",
            "Company Summary",
            "Primary Industry",
            "Company HQ Country",
        ],
        [1, 2, 3, 4, 5],
    ),
    "linkedin-sales-navigator": (
        ["companyName", "websiteUrl", "What they do", "industryName", "countryCode", "LinkedIn Company Page"],
        [0, 1, 2, 3, 4],
    ),
    "dealfront-de": (
        ["Firmenname", "Webseite", "Unternehmensbeschreibung", "Branche", "Land", "Mitarbeiteranzahl"],
        [0, 1, 2, 3, 4],
    ),
    "pharow-fr": (
        ["Nom de l'entreprise", "Site web", "Description de l'entreprise", "Secteur d'activité", "Pays", "Effectif"],
        [0, 1, 2, 3, 4],
    ),
    "einforma-es": (
        ["Nombre de la empresa", "Sitio web", "Descripción", "Sector", "País", "Empleados"],
        [0, 1, 2, 3, 4],
    ),
}


def _file(headers: list[str], columns: list[int]) -> bytes:
    rows = [headers]
    crm = crm_columns.detect(headers)  # a CRM's export: each company its own record id
    for number, company in enumerate((ACME, BETA), start=1):
        row = [f"{headers[i]} value" for i in range(len(headers))]
        if crm:
            row[crm.index] = str(number)
        for field_index, column in enumerate(columns):
            row[column] = company[field_index]
        rows.append(row)
    return csv_text(rows).encode()


@pytest.mark.parametrize("vendor", VENDORS)
def test_each_tools_export_is_imported_as_it_comes(tmp_path, vendor):
    headers, columns = VENDORS[vendor]
    job = import_bytes(tmp_path, _file(headers, columns))
    assert [job.column_mapping()[c] for c in columns] == list(FIELDS)
    assert companies() == [
        {**company, "extra": {key: f"{header} value" for key, header in _extras(job).items()}} for company in EXPECTED
    ]


def _extras(job) -> dict[str, str]:
    return {t.removeprefix("extra:"): job.headers[i] for i, t in job.column_mapping().items() if t.startswith("extra:")}


def test_a_file_whose_headers_say_nothing_is_read_by_its_values(tmp_path):
    rows = [
        ["col1", "col2", "col3", "col4", "col5", "col6"],
        [
            "1001",
            "Acme Anvils",
            "https://www.acme-anvils.com/",
            "US",
            "Forged anvils for smiths and farriers since 1850.",
            "12",
        ],
        ["1002", "Beta Bolts", "betabolts.de", "Germany", "Bolts and screws for bridges, made in Hamburg.", "40"],
        ["1003", "Gamma Gears", "gamma.io", "US", "Gearboxes for wind turbines and the people who fix them.", "7"],
        ["1004", "Delta Dyes", "delta-dyes.fr", "France", "Natural dyes for wool, linen and the odd sofa.", "3"],
        ["1005", "Epsilon", "", "US", "Tiny sensors that count the bees in a hive, every hour.", "9"],
    ]
    job = import_bytes(tmp_path, csv_text(rows).encode())
    assert job.column_mapping() == {
        0: "extra:col1",
        1: "name",
        2: "website",
        3: "country",
        4: "description",
        5: "extra:col6",
    }
    assert Company.objects.get(name="Delta Dyes").domain == "delta-dyes.fr"
    assert Company.objects.count() == 5


def test_two_columns_that_could_each_be_the_description_are_not_guessed(tmp_path):
    rows = [
        ["Company", "Notes A", "Notes B"],
        ["Acme", "Forged anvils for smiths and farriers since 1850.", "Met them at the fair, they want a demo in May."],
        ["Beta", "Bolts and screws for bridges, made in Hamburg.", "Called twice, no answer yet, try again next week."],
    ]
    path = write_file(tmp_path, csv_text(rows).encode())
    job = imports.create_job(path=path)
    assert "description" not in job.column_mapping().values()
    message = (
        "No column is clearly the description: 'Notes A' and 'Notes B' could each be it; choose it on the "
        'preview page, or with --column description="Notes A" on the command line.'
    )
    assert imports.mapping_problem(job) == message
    with pytest.raises(csvfiles.UnreadableFile) as refused:
        imports.run_import(job)
    assert str(refused.value) == message
    assert not Company.objects.exists()
    imports.choose_columns(job, [("description", "notes a")])
    imports.run_import(job)
    assert Company.objects.get(name="Acme").extra == {"notes_b": "Met them at the fair, they want a demo in May."}


def test_a_clearly_wordier_column_is_the_description_and_the_other_is_kept(tmp_path):
    rows = [
        ["Company", "Blurb text", "Long text"],
        ["Acme", "Anvils for smiths and farriers.", " ".join(["Acme forges anvils for smiths and farriers."] * 4)],
        ["Beta", "Bolts for bridges and towers.", " ".join(["Beta makes bolts and screws for bridges."] * 4)],
    ]
    job = import_bytes(tmp_path, csv_text(rows).encode())
    assert job.column_mapping() == {0: "name", 1: "extra:blurb_text", 2: "description"}
