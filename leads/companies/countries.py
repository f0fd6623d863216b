"""Countries in one form: ISO 3166-1 alpha-2 codes, shown as names. Pure: no Django.

A file says "Germany", "germany", "DE", "DEU" or "Deutschland"; we store "DE" (Company.country,
what filters, the dedupe key and the API use), keep what the file said (Company.country_as_given)
and show "Germany". The codes and English names come from pycountry (the ISO 3166 data Debian
maintains); the few common names it lacks are in ALIASES. A value neither knows stays as given:
never guessed into a wrong code (pycountry's fuzzy search puts "UK" in Ukraine's company)."""

from __future__ import annotations

import functools
import json

import pycountry

# Common names, English and the countries' own, that pycountry's exact lookup (alpha-2, alpha-3,
# name, official and common name, any case) does not know. Keys as `_key` writes them.
ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "america": "US",
    "the united states": "US",
    "uae": "AE",
    "deutschland": "DE",
    "holland": "NL",
    "the netherlands": "NL",
    "nederland": "NL",
    "russia": "RU",
    "turkey": "TR",
    "ivory coast": "CI",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "österreich": "AT",
    "españa": "ES",
    "méxico": "MX",
    "brasil": "BR",
    "italia": "IT",
    "sverige": "SE",
    "norge": "NO",
    "danmark": "DK",
    "suomi": "FI",
    "polska": "PL",
    "česko": "CZ",
}


def _key(value: str) -> str:
    """'U.S.A.' -> 'usa', ' Great  Britain' -> 'great britain'. lower(), not casefold(): that
    makes 'ß' 'ss', South Sudan's code."""
    return " ".join(value.lower().replace(".", "").split())


def _names(country) -> set[str]:
    fields = ("alpha_2", "alpha_3", "name", "official_name", "common_name")
    return {getattr(country, field).lower() for field in fields if getattr(country, field, None)}


@functools.lru_cache(maxsize=4096)  # an import asks once a row; a file holds few distinct values
def country_code(value: str) -> str:
    """'Germany', 'germany', 'DE', 'DEU', 'Deutschland' -> 'DE'; '' when the value names no
    country we know (or nothing)."""
    value = value.strip()
    if not value or value.isdigit():  # ISO's numeric codes ('276') are not what a country column holds
        return ""
    key = _key(value)
    if key in ALIASES:
        return ALIASES[key]
    for candidate in dict.fromkeys([value, key]):  # 'U.S.A.' is looked up as 'usa' too
        try:
            country = pycountry.countries.lookup(candidate)
        except LookupError:
            continue
        # pycountry compares in upper case too ('ß' finds 'SS'): only a value that is one of the
        # country's codes or names, letter for letter, case aside, names it.
        if candidate.lower() in _names(country):
            return country.alpha_2
    return ""


def normalise_country(value: str) -> str:
    """What Company.country stores: the code when the value names a country, else the value as given (stripped)."""
    return country_code(value) or value.strip()


# Each code's name: the common name where ISO's is long ('KR': 'South Korea').
NAMES = {country.alpha_2: getattr(country, "common_name", None) or country.name for country in pycountry.countries}


def country_name(value: str) -> str:
    """'DE' -> 'Germany', 'GB' -> 'United Kingdom', 'KR' -> 'South Korea'; any other value as it is."""
    return NAMES.get(value, value)


def country_name_sql() -> str:
    """country_name in SQL, `leads_country_name(country)`: what the order by country and the
    country filter read off one index (Company.Meta), so that a list by country is in the names'
    order, as shown ("Spain" after "Germany", not by their codes ES and DE)."""
    names = json.dumps(NAMES, ensure_ascii=False, sort_keys=True).replace("'", "''")
    return (
        "create or replace function leads_country_name(code text) returns text"
        " language sql immutable parallel safe"
        f" as $$ select coalesce('{names}'::jsonb ->> code, code) $$"
    )
