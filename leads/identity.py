"""How a company is identified and what text represents it. Pure: no Django."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import urlsplit

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


def normalise_domain(website: str) -> str:
    """'HTTPS://www.Example.com/about?x' -> 'example.com'; '' when there is no host."""
    website = website.strip().lower()
    if not website:
        return ""
    if "://" not in website:
        website = "//" + website  # let urlsplit see the host of 'example.com/about'
    try:
        host = urlsplit(website).hostname or ""
    except ValueError:
        return ""
    host = host.strip(".")
    if host.startswith("www."):
        host = host[4:]
    return host if "." in host else ""


def normalise_name(name: str) -> str:
    """'Acme, Inc.' and 'ACME inc' -> 'acme': case, accents, punctuation and legal suffix removed."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = [w for w in _NAME_NOISE.split(folded) if w]
    while len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words) or name.strip().lower()


def dedupe_key(*, name: str, domain: str, country: str) -> str:
    """The normalised domain; without one, the normalised name plus country."""
    if domain:
        return domain
    return f"name:{normalise_name(name)}|{country.strip().lower()}"


def embedding_text(*, name: str, description: str, industry: str) -> str:
    """The text we embed, which is what scores are made of. The name comes
    first, so a company without a description is still embedded from what it has."""
    parts = [name.strip()]
    if industry.strip():
        parts.append(f"Industry: {industry.strip()}.")
    if description.strip():
        parts.append(description.strip())
    return "\n".join(parts)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
