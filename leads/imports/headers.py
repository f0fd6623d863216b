"""Which column is which: the words a header holds (English and the common European spellings),
and, where the header says nothing, the values under it. Pure: no Django.

`suggest_mapping(headers, rows)` is the one place a file's columns are given their fields; the
web preview, the command line and the import all start from it.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from leads.companies.identity import read_website
from leads.crm import columns as crm_columns

# crm_id: a CRM's record id (leads.crm), with the CRM's name given beside the mapping.
FIELDS = ("name", "website", "description", "industry", "country", "label", "crm_id")

# Field -> phrases. A header matches a phrase when it holds all of the phrase's words, in any order,
# after case, accents and punctuation are dropped ("Descripción de la empresa" -> descripcion).
PHRASES: dict[str, str] = {
    "name": (
        "name|company|company name|organisation|organization|account|business|firm|brand|"
        "trading name|legal name|org|nom|nombre|nome|naam|namn|nazwa|firma|entreprise|unternehmen|"
        "empresa|azienda|societe|bedrijf|foretag|raison sociale|razon social|ragione sociale|"
        "denomination"
    ),
    "website": (
        "website|web site|site|web|homepage|home page|domain|url|www|web address|website url|"
        "site internet|site web|sitio web|sitio|pagina web|sito|webseite|internetseite|webadresse|internetadresse|"
        "domaine|dominio|domein|hemsida|strona"
    ),
    "description": (
        "description|desc|descr|about|about us|overview|summary|bio|tagline|one liner|oneliner|"
        "details|profile|what do|what does|blurb|beschreibung|descripcion|descrizione|"
        "omschrijving|beschrijving|beskrivning|beskrivelse|opis|descricao|resume|presentation|"
        "kurzbeschreibung"
    ),
    "industry": (
        "industry|industries|sector|category|vertical|business type|industry description|sic|naics|"
        "branche|secteur|industria|settore|sektor|bransch|kategorie|categoria|categorie"
    ),
    "country": ("country|country code|country name|country region|nation|pays|land|pais|paese|nazione|kraj|lander"),
    # Only a header that says exactly this: "Fit score" or "Facebook likes" are not verdicts.
    "label": ("label|verdict|liked|like|fit|qualified|like dislike|good fit"),
}
# The usual company-data columns, kept in `extra` under these names; employees, founded and
# revenue are also read as numbers (imports/numbers.py) into the company's typed columns.
EXTRA_PHRASES: dict[str, str] = {
    "linkedin_url": ("linkedin"),
    "employees": (
        "employees|size|company size|employee count|headcount|head count|team size|number of employees|"
        "num employees|employees count|staff|staff count|mitarbeiter|mitarbeiterzahl|anzahl mitarbeiter|effectif|"
        "effectifs|empleados|dipendenti|medewerkers|anstallda|pracownicy"
    ),
    "founded": (
        "founded|year founded|founded year|founding year|established|year established|inception|gegrundet|grundungsjahr|"
        "grundung|fondation|creation|date de creation|annee de creation|fundacion|fondazione|opgericht|grundat"
    ),
    "revenue": (
        "revenue|revenues|annual revenue|annual revenue usd|turnover|annual turnover|sales|annual sales|"
        "estimated revenue|revenue usd|revenue eur|umsatz|jahresumsatz|chiffre d affaires|facturacion|"
        "fatturato|omzet|omsattning|przychody"
    ),
    "city": ("city|town|location|stadt|ort|ville|ciudad|citta|stad|miasto"),
    "specialties": ("specialties|specialities|specialty"),
    "technologies": ("technologies|tech stack|technology|tech|technologien"),
}
# Phrases a longer header may hold and still be named by them: "Vendor Summary", "SEO Description",
# "Billing Country", "Firmenname". Any other phrase must be the whole header (fillers aside), since
# its words also turn up in headers about something else: "Account Type", "Web Technologies", "Notes about".
CONTAINED = set(
    "name nom nombre nome naam namn nazwa website url homepage domain webseite internetseite description desc "
    "descr summary overview beschreibung descripcion descrizione omschrijving beschrijving beskrivning "
    "beskrivelse descricao industry industries sector branche secteur naics sic country pays pais land "
    "employees mitarbeiter headcount founded city linkedin technologies specialties".split()
) | {"what do", "what does"}
# Words that only qualify what a header is about: "Company Description", "HQ Country", "Full
# Description", "Nom de l'entreprise". Dropped unless nothing else is left ("Company" is the name).
FILLERS = set(
    "company companys business organisation organization org account firm full short long brief detailed "
    "the a an of for our their its main primary official legal registered hq headquarters us "
    "de la le les l d du des del der die das den el da do di van von "
    "entreprise unternehmen unternehmens firma firmen empresa azienda societe bedrijf bedrijfs foretag foretags "
    "kurz".split()
)
# A header with one of these is about a person ("First Name", "Contact Name", "Vorname"), not the company.
_PERSON = set(
    "first last given family middle surname contact person owner user rep representative file host lead full "
    "display nick firstname lastname fullname username filename hostname nickname vorname nachname prenom".split()
)
_COMPANY = {"company", "business", "organisation", "organization", "account", "firm", "legal", "registered"}
# Links to a profile elsewhere are not the company's website.
_NOT_WEBSITE = (
    "linkedin",
    "twitter",
    "facebook",
    "instagram",
    "xing",
    "crunchbase",
    "github",
    "youtube",
    "logo",
    "image",
    "photo",
    "avatar",
    "favicon",
    "zoominfo",
    "glassdoor",
    "angellist",
)
# Compound words: "Firmenname", "Unternehmensbeschreibung", "Webseite", "Sitzland", "companyname".
_STEMS = (
    "name",
    "naam",
    "namn",
    "beschreibung",
    "seite",
    "branche",
    "land",
    "website",
    "url",
    "domain",
    "description",
    "mitarbeiter",
    "linkedin",
)
# When a header holds phrases of several fields, the longest phrase wins, then this order:
# "Industry Description" is the industry, "Company Domain Name" the website, "Country Name" the country.
_PRIORITY = ["extra:linkedin_url", "industry", "country", "website", "description", "name", "label"]


def words(header: str) -> list[str]:
    """'Descripción de la Empresa' -> ['descripcion', 'de', 'la', 'empresa']; 'companyName' ->
    ['companyname', 'company', 'name']; compounds gain their stem: 'Firmenname' -> ['firmenname', 'name']."""
    found: list[str] = []
    for word in re.findall(r"[^\W_]+", _fold(header)):
        found.append(word)
        if word in _PERSON:
            continue
        found += [s for s in _STEMS if len(word) > len(s) + 1 and (word.endswith(s) or word.startswith(s))]
    if re.search(r"[a-z][A-Z]", header):  # 'companyName'; 'LinkedIn' stays whole too
        found += [p.lower() for p in re.findall(r"[A-Z]?[a-z]+", header) if p.lower() not in found]
    return [w for w in found if w.isascii() and w.isalnum()]


def _fold(text: str) -> str:
    """Lower case without accents: 'Größe' -> 'grosse', 'País' -> 'pais'."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def _meaningful(found: list[str]) -> set[str]:
    return {w for w in found if w not in FILLERS} or set(found)


def _phrase_table() -> list[tuple[str, frozenset[str], bool]]:
    """(target, the phrase's words, whether a longer header may hold it) for every phrase."""
    table = []
    for targets, prefix in ((PHRASES, ""), (EXTRA_PHRASES, "extra:")):
        for target, phrases in targets.items():
            for phrase in phrases.split("|"):
                table.append((prefix + target, frozenset(words(phrase)), phrase in CONTAINED))
    return table


_TABLE = _phrase_table()


@dataclass(frozen=True, order=True)
class Match:
    """How well a header names a target: exact beats contained, then the longer phrase, then _PRIORITY."""

    exact: bool
    length: int
    priority: int
    target: str = field(compare=False)


def match_header(header: str) -> Match | None:
    """The target a header names, or None. 'Company Website' -> website, 'Full Description' ->
    description, 'First Name' -> None (a person's), 'LinkedIn URL' -> extra:linkedin_url."""
    found = words(header)
    if not found:
        return None
    raw, meaningful = set(found), _meaningful(found)
    best: Match | None = None
    for target, phrase, contained in _TABLE:
        exact = phrase in (raw, meaningful)
        if not exact and not (contained and phrase <= raw):
            continue
        if target == "name" and raw & _PERSON and not raw & _COMPANY:
            continue
        if target == "website" and any(w.startswith(_NOT_WEBSITE) or w.endswith(_NOT_WEBSITE) for w in raw):
            continue
        priority = len(_PRIORITY) - _PRIORITY.index(target) if target in _PRIORITY else 0
        candidate = Match(exact, len(phrase), priority, target)
        best = max(best, candidate) if best else candidate
    return best


def snake_case(header: str) -> str:
    """'Funding (USD)' -> 'funding_usd', 'Größe' -> 'größe': letters of any script are kept."""
    return re.sub(r"[\W_]+", "_", header.strip().lower()).strip("_")


# --- the mapping ---------------------------------------------------------------------


@dataclass
class Suggestion:
    """Column index -> a field, 'extra:<name>' or 'ignore'; and the columns that tie for the
    description when no header names one and the values cannot tell (then no column is picked)."""

    mapping: dict[int, str]
    description_ties: list[int] = field(default_factory=list)
    crm: str = ""  # the CRM whose export this is (leads.crm.columns), when its columns say


def suggest_mapping(headers: Sequence[str], rows: Sequence[Sequence[str]] = ()) -> Suggestion:
    """What each column is, from its header; where no header names a field, from the values of the
    first rows. Several description columns ("Short Description", "Long Description") are all
    'description' and are combined. A CRM's own export gets its record id column as crm_id."""
    crm = crm_columns.detect(headers, rows)
    matches = {i: m for i, h in enumerate(headers) if (m := match_header(h)) and not (crm and i == crm.index)}
    mapping: dict[int, str] = {crm.index: "crm_id"} if crm else {}
    # The strongest claims first: an exact "Name" wins the name over "Parent Company Name".
    for index, found in sorted(matches.items(), key=lambda item: (item[1], -item[0]), reverse=True):
        if found.target == "description" or found.target not in mapping.values():
            mapping[index] = found.target
    for index, header in enumerate(headers):
        if index not in mapping:
            mapping[index] = f"extra:{snake}" if (snake := snake_case(header)) else "ignore"
    suggestion = Suggestion(dict(sorted(mapping.items())), crm=crm.crm if crm else "")
    if rows:
        _read_values(suggestion, headers, rows)
    return suggestion


def _read_values(suggestion: Suggestion, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Give the fields no header names to the columns whose values say what they are."""
    mapping = suggestion.mapping
    # "col3", "Notes", "": not a record id column, whose ids would pass for names
    free = [i for i, header in enumerate(headers) if not match_header(header) and mapping.get(i) != "crm_id"]
    columns = {i: Column([row[i].strip() for row in rows if i < len(row) and row[i].strip()]) for i in free}
    columns = {i: c for i, c in columns.items() if c.values}
    taken = set(mapping.values())

    def claim(target: str, candidates: list[int]) -> None:
        """Only a single candidate gets the field: two alike are not guessed between."""
        if target not in taken and len(candidates) == 1:
            mapping[candidates[0]] = target
            taken.add(target)
            del columns[candidates[0]]

    claim("website", [i for i, c in columns.items() if c.is_websites])
    claim("country", [i for i, c in columns.items() if c.is_countries])
    prose = sorted((i for i, c in columns.items() if c.is_prose), key=lambda i: -columns[i].words)
    if "description" not in taken and prose:
        # One clearly wordier column is the description; two alike are a tie we do not guess.
        if len(prose) == 1 or columns[prose[0]].words >= 2 * columns[prose[1]].words:
            claim("description", prose[:1])
        else:
            suggestion.description_ties = sorted(prose)
    if "name" not in taken:
        names = [i for i, c in sorted(columns.items()) if c.is_names and i not in suggestion.description_ties]
        claim("name", names[:1])


_URLISH = re.compile(r"^(https?://)?(www\.)?[^\s/@]+\.[a-z]{2,}([/:?#]\S*)?$", re.IGNORECASE)
_NUMBERISH = re.compile(r"^[\d\s.,:/+\-%$€£()]+$")


@dataclass
class Column:
    """The non-empty values of one column in the first rows, and what they look like."""

    values: list[str]

    @property
    def words(self) -> float:
        return statistics.median(len(v.split()) for v in self.values)

    def share(self, test) -> float:
        return sum(1 for v in self.values if test(v)) / len(self.values)

    @property
    def is_websites(self) -> bool:
        def website(value: str) -> bool:
            return (
                bool(_URLISH.match(value))
                and read_website(value).domain != ""
                and not any(s in value.lower() for s in _NOT_WEBSITE)
            )

        return self.share(website) >= 0.8

    @property
    def is_countries(self) -> bool:
        """A small set of repeated short values that are country names or codes."""
        distinct = {v.casefold() for v in self.values}
        repeated = len(distinct) < len(self.values) and len(distinct) <= max(3, len(self.values) // 2)
        return repeated and self.share(lambda v: is_country(v)) >= 0.8

    @property
    def is_prose(self) -> bool:
        """Long multi-word text: sentences, not labels or names."""
        return self.words >= 6 and self.share(lambda v: len(v.split()) >= 4) >= 0.6

    @property
    def is_names(self) -> bool:
        """Short, mostly distinct text that is not a number, a date, a web or an email address."""
        distinct = len({v.casefold() for v in self.values}) / len(self.values)
        return (
            distinct >= 0.8
            and self.words <= 6
            and self.share(lambda v: any(ch.isalpha() for ch in v) and not _URLISH.match(v) and "@" not in v) >= 0.8
            and self.share(lambda v: bool(_NUMBERISH.match(v))) < 0.2
            and self.share(lambda v: any(ch in v for ch in ";|\t")) < 0.2  # a whole row read with the wrong delimiter
        )


# ISO 3166-1 alpha-2 and the alpha-3 codes and names (English and native) sales files use.
_COUNTRY_CODES = set(
    """ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw
    by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg eh er es et fi fj
    fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq
    ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh
    mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl
    pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv sx sy sz tc td
    tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug um us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw uk
    usa gbr deu fra nld bel che aut ita esp prt irl swe nor dnk fin pol cze can mex bra arg chl aus nzl jpn chn
    ind sgp kor isr zaf are""".split()
)
_COUNTRY_NAMES = set(
    """united states|united states of america|america|united kingdom|great britain|britain|england|scotland|
    wales|ireland|germany|deutschland|france|netherlands|the netherlands|holland|nederland|belgium|belgique|
    belgie|switzerland|schweiz|suisse|svizzera|austria|osterreich|italy|italia|spain|espana|portugal|sweden|
    sverige|norway|norge|denmark|danmark|finland|suomi|iceland|poland|polska|czech republic|czechia|slovakia|
    hungary|romania|bulgaria|greece|turkey|turkiye|ukraine|russia|estonia|latvia|lithuania|luxembourg|
    slovenia|croatia|serbia|canada|mexico|brazil|brasil|argentina|chile|colombia|peru|japan|china|india|
    singapore|south korea|korea|taiwan|hong kong|indonesia|malaysia|thailand|vietnam|philippines|australia|
    new zealand|israel|united arab emirates|uae|saudi arabia|egypt|nigeria|kenya|south africa|morocco|
    pakistan|bangladesh|qatar|cyprus|malta|estados unidos|reino unido|alemania|francia|allemagne|
    royaume uni|etats unis|espagne|italie|pays bas|suede|vereinigte staaten|vereinigtes konigreich|
    frankreich|spanien|italien|niederlande|schweden""".split("|")
)
_COUNTRY_NAMES = {" ".join(name.split()) for name in _COUNTRY_NAMES}


def is_country(value: str) -> bool:
    folded = unicodedata.normalize("NFKD", value.casefold())
    folded = " ".join(re.findall(r"[a-z]+", "".join(ch for ch in folded if not unicodedata.combining(ch))))
    return folded in _COUNTRY_CODES or folded in _COUNTRY_NAMES


# --- the user's choices --------------------------------------------------------------


def valid_target(target: str) -> bool:
    return target in (*FIELDS, "ignore") or (target.startswith("extra:") and len(target) > 6)


def find_column(headers: Sequence[str], header: str) -> int:
    """The index of the column a user named by its header (case and surrounding spaces ignored)."""
    folded = [h.strip().casefold() for h in headers]
    found = [i for i, h in enumerate(folded) if h == header.strip().casefold()]
    listed = ", ".join(repr(h) for h in headers)
    if not found:
        raise ValueError(f"The file has no column {header!r}: its columns are {listed}.")
    if len(found) > 1:
        raise ValueError(f"{len(found)} columns are called {header!r}: rename one of them in the file.")
    return found[0]


def choose_columns(
    mapping: dict[int, str], headers: Sequence[str], choices: Sequence[tuple[str, str]]
) -> dict[int, str]:
    """The suggested mapping with the user's choices, each (target, header): `description=About`.

    A target the user gives leaves the columns it was only suggested for, which are kept under their
    own header instead; naming several columns for the description combines them, as on the web."""
    chosen: dict[int, str] = {}
    for target, header in choices:
        if not valid_target(target):
            fields = ", ".join(FIELDS)
            raise ValueError(f"{target!r} is not a field: use one of {fields}, ignore, or extra:NAME.")
        index = find_column(headers, header)
        if index in chosen and chosen[index] != target:
            raise ValueError(f"Column {header!r} is given twice, as {chosen[index]} and as {target}: give it once.")
        if target in FIELDS and target != "description" and target in chosen.values():
            raise ValueError(f"Only one column can be the {target}: give --column {target}= once.")
        chosen[index] = target
    result = {}
    for index, target in mapping.items():
        if index in chosen:
            result[index] = chosen[index]
        elif target in chosen.values():
            result[index] = f"extra:{snake}" if (snake := snake_case(headers[index])) else "ignore"
        else:
            result[index] = target
    return result


def tie_message(headers: Sequence[str], ties: Sequence[int]) -> str:
    """One sentence for the columns that could each be the description."""
    names = [repr(headers[i] or f"column {i + 1}") for i in ties]
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    return (
        f"No column is clearly the description: {listed} could each be it; choose it on the preview page, "
        f'or with --column description="{headers[ties[0]] or ties[0] + 1}" on the command line.'
    )
