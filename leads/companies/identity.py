"""How a company is identified and what text represents it. Pure: no Django.

The one home for what a company's name and website may hold: the importer checks rows with
clean_name and read_website, and Company.save() takes its domain and dedupe key from here."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from leads.companies.countries import normalise_country

MAX_DOMAIN_CHARS = 253  # the longest host name DNS allows (Company.domain holds 255)

_NAME_NOISE = re.compile(r"[^0-9a-z]+")
_LEGAL_SUFFIXES = {
    "inc",
    "llc",
    "ltd",
    "limited",
    "gmbh",
    "sa",
    "sas",
    "bv",
    "ag",
    "plc",
    "corp",
    "co",
    "srl",
    "ab",
    "oy",
}

# Bidirectional embeddings, overrides, isolates and marks: inside a name they can make it display
# as another name ('Trojan Source'), and a company name never needs them.
BIDI_CONTROLS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
# Blank characters that are letters or marks to Unicode, so no category gives them away: the
# combining grapheme joiner, Hangul fillers, the braille blank and variation selectors.
_BLANK_LETTERS = {"\u034f", "\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"} | {
    chr(c) for c in [*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]
}
# Controls, format characters (zero-width spaces and joiners, BOMs, soft hyphens) and separators.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Zs", "Zl", "Zp"}
# What people write in a website column when there is none: no website, not a bad one.
_NO_WEBSITE = {"-", "--", "\u2013", "\u2014", "n/a", "na", "none", "null", "nil"}
# A website cell holding only the start of an address ('https://', 'http://www.', 'www.'): nothing
# was filled in after it, so no website, not a bad one that costs the row.
_BARE_PREFIX = re.compile(r"(?:https?:)?/*(?:www\.?)?/*")
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):(?!\d)")  # 'https:', 'javascript:'; not 'example.com:8080'
_EXAMPLE = "give the company's site, such as example.com, or leave it empty"
_ASCII_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_ASCII_HOST = re.compile(rf"(?:{_ASCII_LABEL}\.)+(?![0-9]+$){_ASCII_LABEL}")


def _is_invisible(ch: str) -> bool:
    return unicodedata.category(ch) in _INVISIBLE_CATEGORIES or ch.isspace() or ch in _BLANK_LETTERS


def clean_name(name: str) -> str:
    """The name as stored: stripped, without bidirectional controls. '' when nothing visible is
    left, so a name of zero-width spaces or control characters counts as no name.

    Other invisible characters stay: joiners are part of emoji and of some scripts, and a
    Windows-1252 byte that decodes to a control character is kept, like every other byte."""
    name = _BIDI.sub("", name).strip()
    return "" if all(_is_invisible(ch) for ch in name) else name


@dataclass(frozen=True)
class Website:
    """A website cell read: the one form lists show (`domain`) and the address as given (`url`)."""

    domain: str  # 'example.com'; '' when there is no website or it is not a web address
    problem: str = ""  # what to fix, one sentence without its full stop; '' when the website is fine or empty
    url: str = ""  # what Company.website keeps: the value as given, stripped; '' when it means no website


def read_website(website: str) -> Website:
    """'HTTPS://www.Example.com/about?x' -> example.com. A value that is not a web address (an
    email address, 'javascript:...', words) has no domain and says why. A placeholder ('n/a',
    '-') or a bare 'https://' is no website: no domain, no problem, no url."""
    text = website.strip().lower()
    if not text or text in _NO_WEBSITE or _BARE_PREFIX.fullmatch(text):
        return Website("")
    if scheme := _SCHEME.match(text):
        if scheme[1] not in ("http", "https") or not text.startswith("//", scheme.end()):
            return _not_web(website)
    elif not text.startswith("//"):
        text = "//" + text  # let urlsplit see the host of 'example.com/about'
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises on 'host:words'
    except ValueError:
        return _not_web(website)
    if "@" in parts.netloc:
        problem = f"the website {_shown(website)} is an email address, not a website: {_EXAMPLE}"
        return Website("", problem, website.strip())
    host = (parts.hostname or "").strip(".").removeprefix("www.")
    if len(host) > MAX_DOMAIN_CHARS:
        return Website(
            "",
            f"the website's host name is {len(host)} characters long; a domain has at most "
            f"{MAX_DOMAIN_CHARS}: correct the website",
            website.strip(),
        )
    return Website(host, url=website.strip()) if _is_host_name(host) else _not_web(website)


def _not_web(website: str) -> Website:
    return Website("", f"the website {_shown(website)} is not a web address: {_EXAMPLE}", website.strip())


def _is_host_name(host: str) -> bool:
    """Two or more labels of letters (any script, for internationalised domains), digits,
    hyphens and underscores, none starting or ending with a hyphen; the last not a number."""
    if host.isascii():
        return bool(_ASCII_HOST.fullmatch(host))  # the same rule, 5x faster: imports call this per row
    labels = host.split(".")
    if len(labels) < 2 or labels[-1].isdigit():
        return False
    for label in labels:
        if not 0 < len(label) <= 63 or label.startswith("-") or label.endswith("-"):
            return False
        if not all(ch in "-_" or unicodedata.category(ch)[0] in "LMN" for ch in label):
            return False
    return True


def _shown(value: str) -> str:
    """A value quoted for a message, control characters escaped, cut to a readable length."""
    value = value.strip()
    return repr(value if len(value) <= 80 else value[:77] + "...")


def normalise_domain(website: str) -> str:
    """'HTTPS://www.Example.com/about?x' -> 'example.com'; '' when there is no host name."""
    return read_website(website).domain


def normalise_name(name: str) -> str:
    """'Acme, Inc.' and 'ACME inc' -> 'acme': case, accents, punctuation and legal suffix removed."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = [w for w in _NAME_NOISE.split(folded) if w]
    while len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words) or clean_name(name).lower()


def dedupe_key(*, name: str, domain: str, country: str) -> str:
    """The normalised domain; without one, the normalised name plus country, as its code where it
    names one ('Germany', 'DE' and 'Deutschland' make one key: countries.normalise_country)."""
    if domain:
        return domain
    return f"name:{normalise_name(name)}|{normalise_country(country).lower()}"


# The text we embed, which is what scores are made of, declared once for Python and SQL: the name
# first (so a company without a description is still embedded from what it has), then each other
# field that is not empty, on a line of its own, inside its template.
EMBEDDED_FIELDS = (("name", "{}"), ("industry", "Industry: {}."), ("description", "{}"))


def embedding_text(*, name: str, description: str, industry: str) -> str:
    values = {"name": name, "industry": industry, "description": description}
    first, *rest = EMBEDDED_FIELDS
    parts = [first[1].format(values[first[0]].strip())]
    parts += [template.format(values[field].strip()) for field, template in rest if values[field].strip()]
    return "\n".join(parts)


def embedding_text_sql(columns: dict[str, str]) -> str:
    """embedding_text as a SQL expression over `columns` (field -> SQL of its stripped value)."""

    def templated(field: str, template: str) -> str:
        before, after = template.split("{}")
        return " || ".join(p for p in (_sql_literal(before), columns[field], _sql_literal(after)) if p)

    (first, template), *rest = EMBEDDED_FIELDS
    sql = templated(first, template)
    for field, template in rest:
        sql += f" || case when {columns[field]} <> '' then E'\\n' || {templated(field, template)} else '' end"
    return sql


def text_hash_sql(text_sql: str) -> str:
    """text_hash in SQL."""
    return f"encode(sha256(convert_to({text_sql}, 'UTF8')), 'hex')"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'" if text else ""


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
