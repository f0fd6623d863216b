import pytest

from leads.companies.identity import (
    Website,
    clean_name,
    dedupe_key,
    embedding_text,
    normalise_domain,
    normalise_name,
    read_website,
    text_hash,
)


@pytest.mark.parametrize(
    "website, domain",
    [
        ("https://www.Example.com/about?x=1", "example.com"),
        ("example.com", "example.com"),
        ("WWW.EXAMPLE.CO.UK/", "example.co.uk"),
        ("http://shop.example.com:8080/path", "shop.example.com"),
        ("", ""),
        ("https://medium.com/@acme", "medium.com"),  # an @ in the path is not an email address
        ("bücher.de", "bücher.de"),  # internationalised domains keep their letters
        ("example.com.", "example.com"),
        ("n/a", ""),
    ],
)
def test_it_normalises_domains(website, domain):
    assert normalise_domain(website) == domain
    assert read_website(website).problem == ""


@pytest.mark.parametrize(
    "website",
    [
        "not a website",
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "foo bar.com",
        "bob@acme.com",
        "mailto:bob@acme.com",
        "ftp://files.acme.com",
        "acme.com:evil",
        "localhost",
        "192.168.0.1",
        "-acme.com",
        "acme..com",
        "acme.com\u200b",
        "<script>.com",
    ],
)
def test_it_gives_no_domain_for_a_website_that_is_not_a_host_name_and_says_what_to_fix(website):
    read = read_website(website)
    assert read.domain == "" and normalise_domain(website) == ""
    assert read.problem.startswith(f"the website {website!r} is ")
    assert "such as example.com" in read.problem and ". " not in read.problem


@pytest.mark.parametrize("website", ["https://", "http://", "https://www.", "HTTP://WWW.", "www.", " https:// ", "//"])
def test_a_bare_start_of_an_address_is_no_website_not_a_bad_one(website):
    assert read_website(website) == Website(domain="", problem="", url="")


@pytest.mark.parametrize(
    "website, url, domain",
    [
        (" https://www.nordkyl.se ", "https://www.nordkyl.se", "nordkyl.se"),
        ("sunbaydental.com", "sunbaydental.com", "sunbaydental.com"),
        ("HTTPS://Example.com/about", "HTTPS://Example.com/about", "example.com"),
        ("n/a", "", ""),
        ("-", "", ""),
    ],
)
def test_it_keeps_the_address_as_given_beside_its_domain(website, url, domain):
    assert read_website(website) == Website(domain=domain, problem="", url=url)


def test_it_says_a_website_host_is_longer_than_a_domain_can_be():
    host = ".".join(["a" * 63] * 4) + ".example"
    assert read_website(f"https://{host}/").problem.startswith("the website's host name is 263 characters long")
    assert normalise_domain(host) == ""


def test_it_strips_bidirectional_controls_from_names():
    assert clean_name(" Acme\u202e gnp.exe ") == "Acme gnp.exe"
    assert clean_name("\u2066Beta\u2069 \u200fBolts\u200e") == "Beta Bolts"
    assert clean_name("👩\u200d💻 Coders") == "👩\u200d💻 Coders"  # a joiner inside a name stays


@pytest.mark.parametrize(
    "name", ["", "   ", "\u200b", "\ufeff\u200c\u200d", "\x1b\x00\x07", "\u202e", "\u3164", "\ufe0f"]
)
def test_it_finds_nothing_in_a_name_of_invisible_characters(name):
    assert clean_name(name) == ""


def test_it_gives_names_that_differ_only_by_invisible_characters_one_key():
    assert dedupe_key(name="\u200bAcme\u202c", domain="", country="US") == dedupe_key(
        name="Acme", domain="", country="US"
    )
    # A name of Hangul fillers used to be its own key: it is no name (and the importer rejects the row).
    assert dedupe_key(name="\u3164", domain="", country="US") == dedupe_key(name="", domain="", country="US")


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
