"""Countries in one form (leads/companies/countries.py): Company.country becomes the ISO code
where the value names a country ('Germany', 'DE', 'Deutschland' -> 'DE'), the value as given is
kept in the new Company.country_as_given, and the dedupe keys made of a name and a country are
made again with the code, so that re-importing the same file updates the same companies.

Two companies that only the country's spelling kept apart ('Acme' in 'Germany' and 'Acme' in
'DE', no website) would now share a key: the one holding it keeps it (else the older one takes
it), the other keeps its old key and stays a company of its own (merging companies, their labels
and scores, is not a migration's to decide); an import then updates the one holding the key. Also, a website left as a placeholder ('n/a') or a bare 'https://' by
earlier versions is emptied, as Company.save and the import now store it."""

from django.db import migrations, models

from leads.companies.countries import normalise_country
from leads.companies.identity import dedupe_key, normalise_name, read_website

BATCH = 5_000


def _distinct_countries(schema_editor) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("select distinct country from leads_company where country <> ''")
        return [row[0] for row in cursor.fetchall()]


def countries_to_codes(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("update leads_company set country_as_given = country where country <> ''")
        for value in _distinct_countries(schema_editor):
            code = normalise_country(value)
            if code != value:
                cursor.execute("update leads_company set country = %s where country = %s", [code, value])
    _rekey(schema_editor)
    _empty_placeholder_websites(schema_editor)


def codes_to_countries(apps, schema_editor):
    """Back to the countries as given, and the keys as 0018's code made them (the country lowercased)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("update leads_company set country = country_as_given where country_as_given <> ''")
    _rekey(schema_editor, old_key)


def old_key(*, name: str, domain: str, country: str) -> str:
    """dedupe_key as 0018's code made it: the country lowercased, not its code."""
    return domain or f"name:{normalise_name(name)}|{country.strip().lower()}"


def _rekey(schema_editor, key=dedupe_key) -> None:
    """Make the name-and-country keys again (companies with a website are keyed by its domain).
    A key another company holds stays with it (see the module's docstring)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("select dedupe_key from leads_company")
        used = {row[0] for row in cursor.fetchall()}
        cursor.execute("select id, name, country, dedupe_key from leads_company where domain = '' order by id")
        rows = cursor.fetchall()
        original = {old for *_, old in rows}
        changes, taken_back = [], []  # taken_back: a key that a company changed earlier freed
        for pk, name, country, old in rows:
            new = key(name=name, domain="", country=country)
            if new == old or new in used:
                continue
            (taken_back if new in original else changes).append((pk, new))
            used.discard(old)
            used.add(new)
        # New keys nobody held: in batches. Freed ones: one at a time, in order, after the batches
        # (a unique index is checked row by row, so a batch could meet a key before it is freed).
        for start in range(0, len(changes), BATCH):
            batch = changes[start : start + BATCH]
            cursor.execute(
                "update leads_company c set dedupe_key = v.key from unnest(%s::bigint[], %s::text[]) as v(id, key)"
                " where c.id = v.id",
                [[pk for pk, _ in batch], [new for _, new in batch]],
            )
        for pk, new in taken_back:
            cursor.execute("update leads_company set dedupe_key = %s where id = %s", [new, pk])


def _empty_placeholder_websites(schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("select id, website from leads_company where domain = '' and website <> ''")
        empty = [pk for pk, website in cursor.fetchall() if read_website(website) == read_website("")]
        if empty:
            cursor.execute("update leads_company set website = '' where id = any(%s::bigint[])", [empty])


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0022_saved_views"),
    ]

    operations = [
        migrations.AddField(
            model_name="company",
            name="country_as_given",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.RunPython(countries_to_codes, codes_to_countries),
    ]
