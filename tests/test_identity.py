import pytest

from leads.identity import dedupe_key, embedding_text, normalise_domain, normalise_name, text_hash


@pytest.mark.parametrize(
    "website, domain",
    [
        ("https://www.Example.com/about?x=1", "example.com"),
        ("example.com", "example.com"),
        ("WWW.EXAMPLE.CO.UK/", "example.co.uk"),
        ("http://shop.example.com:8080/path", "shop.example.com"),
        ("", ""),
        ("not a website", ""),
    ],
)
def test_it_normalises_domains(website, domain):
    assert normalise_domain(website) == domain


def test_it_normalises_names_without_legal_suffixes_or_accents():
    assert normalise_name("Acme, Inc.") == normalise_name("ACME inc") == "acme"
    assert normalise_name("Café Müller GmbH") == "cafe muller"


def test_the_dedupe_key_is_the_domain_or_the_name_and_country():
    assert dedupe_key(name="Acme", domain="acme.com", country="US") == "acme.com"
    assert dedupe_key(name="Acme Inc", domain="", country="US") == dedupe_key(name="ACME", domain="", country="us")
    assert dedupe_key(name="Acme", domain="", country="US") != dedupe_key(name="Acme", domain="", country="FR")


def test_the_embedded_text_leads_with_the_name_and_changes_with_the_description():
    text = embedding_text(name="Acme", description="Makes anvils.", industry="Tools")
    assert text == "Acme\nIndustry: Tools.\nMakes anvils."
    assert embedding_text(name="Acme", description="", industry="") == "Acme"
    assert text_hash(text) != text_hash(embedding_text(name="Acme", description="Makes rockets.", industry="Tools"))
