"""Migration 0023: countries become codes with what was given kept, name-and-country dedupe keys
are made again with the code, placeholder websites are emptied, and re-importing the file the
companies came from afterwards updates them instead of making duplicates. Runs 0022 -> 0023 on
the real test database."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from leads.companies.identity import embedding_text, text_hash
from leads.imports import services as imports
from leads.models import Company

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("leads", "0022_saved_views")]

# What 0022's import stored for this file: the country as given, keys with it lowercased.
FILE = (
    "name,website,country,description\n"
    "Nordkyl AB,https://www.nordkyl.se,Sweden,Cold rooms.\n"
    "Acme GmbH,,Germany,Anvils.\n"
    "Atlantis Co,,Atlantis,Sunken.\n"
    "Nowhere Ltd,n/a,UK,Nothing.\n"
)
OLD_ROWS = [
    # name, website, domain, dedupe_key, country, description
    ("Nordkyl AB", "https://www.nordkyl.se", "nordkyl.se", "nordkyl.se", "Sweden", "Cold rooms."),
    ("Acme GmbH", "", "", "name:acme|germany", "Germany", "Anvils."),
    ("Atlantis Co", "", "", "name:atlantis|atlantis", "Atlantis", "Sunken."),
    ("Nowhere Ltd", "n/a", "", "name:nowhere|uk", "UK", "Nothing."),
    # Made apart only by the country's spelling: after 0023 both would be 'name:acme|de'.
    ("ACME", "", "", "name:acme|de", "DE", "Anvils too."),
]


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


@pytest.fixture
def before_0023():
    migrate(BEFORE)
    yield
    migrate(latest())


def insert_old(rows) -> None:
    with connection.cursor() as cursor:
        for name, website, domain, key, country, description in rows:
            cursor.execute(
                "insert into leads_company (name, website, domain, dedupe_key, description, industry, country,"
                " extra, text_hash, verdict, created_at, updated_at)"
                " values (%s, %s, %s, %s, %s, '', %s, '{}', %s, '', now(), now())",
                [name, website, domain, key, description, country,
                 text_hash(embedding_text(name=name, description=description, industry=""))],
            )  # fmt: skip


def test_0023_normalises_countries_keeps_what_was_given_and_a_re_import_updates_the_same_companies(
    before_0023, tmp_path
):
    insert_old(OLD_ROWS)
    migrate(latest())  # 0023 and every migration after it
    rows = {c.name: c for c in Company.objects.all()}
    assert {name: (c.country, c.country_as_given) for name, c in rows.items()} == {
        "Nordkyl AB": ("SE", "Sweden"),
        "Acme GmbH": ("DE", "Germany"),
        "Atlantis Co": ("Atlantis", "Atlantis"),  # no country we know: kept as given
        "Nowhere Ltd": ("GB", "UK"),
        "ACME": ("DE", "DE"),
    }
    # The older of the two Acmes takes the new key; the other keeps its old one, still a company of its own.
    assert {name: c.dedupe_key for name, c in rows.items()} == {
        "Nordkyl AB": "nordkyl.se",
        "Acme GmbH": "name:acme|germany",
        "Atlantis Co": "name:atlantis|atlantis",
        "Nowhere Ltd": "name:nowhere|gb",
        "ACME": "name:acme|de",
    }
    assert (rows["Nowhere Ltd"].website, rows["Nordkyl AB"].website) == ("", "https://www.nordkyl.se")

    path = tmp_path / "same.csv"
    path.write_text(FILE)
    job = imports.run_import(imports.create_job(path=path))
    assert (job.created, job.rejected) == (0, 0)
    assert Company.objects.count() == len(OLD_ROWS)


def test_0023_moves_a_name_key_to_its_code_when_nobody_holds_it(before_0023, tmp_path):
    insert_old([("Acme GmbH", "", "", "name:acme|germany", "Germany", "Anvils.")])
    migrate(latest())  # 0023 and every migration after it
    acme = Company.objects.get()
    assert (acme.dedupe_key, acme.country, acme.country_as_given) == ("name:acme|de", "DE", "Germany")
    path = tmp_path / "same.csv"
    path.write_text("name,country,description\nAcme GmbH,Deutschland,Anvils.\n")
    job = imports.run_import(imports.create_job(path=path))
    assert (job.created, Company.objects.count()) == (0, 1)


def test_0023_goes_back_to_the_countries_as_given(before_0023):
    insert_old([("Acme GmbH", "", "", "name:acme|germany", "Germany", "Anvils.")])
    migrate(latest())  # 0023 and every migration after it
    migrate(BEFORE)
    with connection.cursor() as cursor:
        cursor.execute("select country, dedupe_key from leads_company")
        assert cursor.fetchall() == [("Germany", "name:acme|germany")]
