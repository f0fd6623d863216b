"""Countries in one form: codes from pycountry and the alias table, names to show; unknown values
kept as given. Pure: no database."""

import pytest

from leads.companies.countries import ALIASES, country_code, country_name, normalise_country
from leads.companies.identity import dedupe_key


@pytest.mark.parametrize(
    "given, code",
    [
        ("Germany", "DE"),
        ("germany", "DE"),
        (" GERMANY ", "DE"),
        ("DE", "DE"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("Deutschland", "DE"),
        ("Norway", "NO"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("US", "US"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("UK", "GB"),  # not Ukraine, which a fuzzy search offers
        ("U.K.", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("United Kingdom", "GB"),
        ("South Korea", "KR"),
        ("Czech Republic", "CZ"),
        ("The Netherlands", "NL"),
    ],
)
def test_it_gives_the_iso_code_of_the_common_ways_to_write_a_country(given, code):
    assert country_code(given) == code
    assert normalise_country(given) == code


@pytest.mark.parametrize("given", ["Atlantis", "Korea", "EU", "XX", "276", "Nordics", "DACH", "ß", "ﬀ"])
def test_a_value_that_names_no_country_we_know_stays_as_given_and_gets_no_code(given):
    assert country_code(given) == ""
    assert normalise_country(f" {given} ") == given
    assert country_name(given) == given


@pytest.mark.parametrize(
    "code, name",
    [("DE", "Germany"), ("GB", "United Kingdom"), ("US", "United States"), ("KR", "South Korea"), ("NO", "Norway")],
)
def test_a_code_is_shown_as_its_name(code, name):
    assert country_name(code) == name
    assert country_code(name) == code  # and the name finds the code again: the dashboard's filter


def test_every_alias_is_a_real_code_and_not_one_pycountry_already_knows():
    for alias, code in ALIASES.items():
        assert country_name(code) != code, alias
        assert alias == " ".join(alias.lower().split())  # written as the lookup key is


def test_the_dedupe_key_is_one_for_every_spelling_of_a_country():
    keys = {dedupe_key(name="Acme GmbH", domain="", country=c) for c in ["Germany", "DE", "deu", "Deutschland"]}
    assert keys == {"name:acme|de"}
    assert dedupe_key(name="Acme", domain="", country="Atlantis") == "name:acme|atlantis"
