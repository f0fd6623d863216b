"""A CRM's deals (opportunities) export read into deals: which column is which, the stage read as
won / lost / open, the close date and the amount. Pure: rows of cells in, Deals or rejects out.

The shapes are the CRMs' own exports: HubSpot's deals ("Record ID", "Deal Stage" or its internal
`dealstage` names, "Associated Company IDs", "Close Date", "Amount"), Salesforce's opportunities
("Opportunity ID", "Stage" / "StageName", "Account ID", "IsWon", "IsClosed", "Close Date"),
Pipedrive's deals ("Deal - ID", "Deal - Status" won / lost / open, "Organization - ID",
"Deal - Won time"). A file (and its rows) is read through imports.tabular like any other table."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import pycountry

from leads.companies.identity import clean_name, normalise_name, read_website
from leads.crm import columns as crm_columns
from leads.imports import numbers
from leads.imports.csvdialect import Rows
from leads.imports.csvfiles import Rejected

WON, LOST, OPEN = "won", "lost", "open"
STAGES = (WON, LOST, OPEN)

# What a deals file's rows are, for the sentences that say a file has none (imports.tabular).
DEALS = Rows("deal", "deals")

# What a deal row may say, and the headers (folded: lower case, words only) each is known by, in
# order of preference: Pipedrive's won / lost / open "status" before its pipeline "stage".
HEADERS: dict[str, tuple[str, ...]] = {
    "deal_id": ("record id", "deal id", "opportunity id", "deal id", "id", "opportunity id 18", "hs object id"),
    "record_id": ("associated company ids", "associated company id", "company id", "company ids", "account id",
                  "accountid", "organization id", "organisation id", "org id", "deal organization id"),
    "domain": ("company domain name", "associated company domain", "company domain", "domain", "company website",
               "account website", "organization website", "website"),
    "name": ("associated company", "associated company name", "company name", "company", "account name",
             "account", "organization name", "organization", "organisation", "deal organization"),
    "stage": ("deal status", "status", "deal stage", "dealstage", "stagename", "stage name", "stage",
              "opportunity stage"),
    "closed_on": ("close date", "closedate", "closed date", "deal close date", "close time", "won time",
                  "deal won time", "lost time", "deal lost time", "expected close date", "deal expected close date"),
    "amount": ("amount", "deal amount", "value", "deal value", "opportunity amount", "amount in company currency"),
    "currency": ("currency", "deal currency", "deal currency code", "currency iso code", "currencyisocode", "opportunity currency",
                 "amount currency"),
    "deal_name": ("deal name", "dealname", "opportunity name", "deal title", "title"),
    "is_won": ("iswon", "is won", "won"),
    "is_closed": ("isclosed", "is closed", "closed"),
}  # fmt: skip
FIELDS = tuple(HEADERS)
# What the preview's column choices say for each field (the form's values stay the field names).
FIELD_LABELS = {
    "deal_id": "Deal ID",
    "record_id": "Company's CRM record ID",
    "domain": "Company website or domain",
    "name": "Company name",
    "stage": "Stage",
    "closed_on": "Close date",
    "amount": "Amount",
    "currency": "Currency",
    "deal_name": "Deal name",
    "is_won": "Won? (true / false)",
    "is_closed": "Closed? (true / false)",
}
# Fields several columns may fill (the first non-empty, in the order of HEADERS): Pipedrive has a
# won time and a lost time.
MANY = {"closed_on"}

_WON = {"closed won", "closedwon", "won", "closed/won", "closed-won", "deal won"}
_LOST = {"closed lost", "closedlost", "lost", "closed/lost", "closed-lost", "deal lost"}
# Open stages of the CRMs' default pipelines; any other stage is open too, but the preview lists
# it so that a manager can say a team's own "Signed" means won.
_OPEN = {
    "open", "appointmentscheduled", "appointment scheduled", "qualifiedtobuy", "qualified to buy",
    "presentationscheduled", "presentation scheduled", "decisionmakerboughtin", "decision maker bought in",
    "contractsent", "contract sent", "prospecting", "qualification", "needs analysis", "value proposition",
    "id decision makers", "perception analysis", "proposal price quote", "negotiation review", "lead in",
    "contact made", "demo scheduled", "proposal made", "negotiations started", "qualified",
}  # fmt: skip
_TRUE, _FALSE = {"true", "1", "yes", "y", "t"}, {"false", "0", "no", "n", "f", ""}
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "chf": "CHF"}
MAX_DEAL_ID = 100
MAX_AMOUNT = Decimal(10) ** 16  # Outcome.amount: 18 digits, 2 of them after the point


# Said on the preview and by `import_outcomes` when no column holds the stage: the file is most likely
# not a deals export, or its stage column has a name no CRM uses.
NO_STAGE = ("No column says each deal's stage, so every deal would be read as open, and open deals prove nothing: "
            "map the column that holds it to stage (HubSpot: Deal Stage; Salesforce: Stage; Pipedrive: Status).")  # fmt: skip


def reads_stage(mapping: dict[int, str]) -> bool:
    """Whether a column is mapped to what decides a deal's stage (its stage, or Salesforce's IsWon / IsClosed)."""
    return any(field in ("stage", "is_won", "is_closed") for field in mapping.values())


def fold(text: str) -> str:
    """A header as crm.columns folds it, without a trailing '(Primary)': 'Deal - Status' -> 'deal
    status', 'Associated Company IDs (Primary)' -> 'associated company ids'."""
    words = crm_columns.fold(text).split()
    while words and words[-1] == "primary":
        words.pop()
    return " ".join(words)


def suggest_mapping(headers: Sequence[str]) -> dict[int, str]:
    """Column index -> field, by header; each field once (but MANY), preferred headers first."""
    folded = [fold(h) for h in headers]
    mapping: dict[int, str] = {}
    for target, known in HEADERS.items():
        for alias in known:
            for index, header in enumerate(folded):
                if header == alias and index not in mapping:
                    mapping[index] = target
                    break
            if target in mapping.values() and target not in MANY:
                break
    return mapping


def guess_crm(headers: Sequence[str]) -> str:
    """'hubspot', 'salesforce' or 'pipedrive' by the headers their exports write; '' when none says."""
    folded = {fold(h) for h in headers}
    if folded & {"dealstage", "associated company ids", "associated company", "hs object id"}:
        return "hubspot"
    if folded & {"stagename", "opportunity id", "account id", "accountid", "iswon", "opportunity name"}:
        return "salesforce"
    if folded & {"deal status", "deal title", "organization id", "deal organization", "deal id"}:
        return "pipedrive"
    if "deal stage" in folded:
        return "hubspot"
    return ""


def fold_stage(written: str) -> str:
    """'Closed/Won' -> 'closed won' (crm.columns.fold): how stages are compared and how a manager's
    choices are keyed."""
    return crm_columns.fold(written)


def stage_of(written: str, *, chosen: dict[str, str] | None = None) -> str:
    """'Closed Won' -> won, 'closedlost' -> lost, anything else -> open; `chosen` (folded stage ->
    won / lost / open) is a manager's word for a team's own stages and comes first."""
    folded = fold_stage(written)
    if chosen and folded in chosen:
        return chosen[folded]
    if written.strip().lower() in _WON or folded in _WON:
        return WON
    if written.strip().lower() in _LOST or folded in _LOST:
        return LOST
    return OPEN


def is_known_stage(written: str) -> bool:
    folded = fold_stage(written)
    return folded in _WON or folded in _LOST or folded in _OPEN or written.strip().lower() in _WON | _LOST


_ISO_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")  # a time may follow: 'T10:00', ' 10:00'
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
_DOTTED_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?!\d)")


def read_date(text: str, *, day_first: bool | None = None) -> date | None:
    """'2024-03-05', '2024-03-05T10:00:00Z', '2024-03-05 10:00', '05.03.2024' (day first),
    '2024/03/05'; '03/05/2024' month first when the first number is at most 12, unless `day_first`
    (a file's own order, `slash_order`) says otherwise. None when it is no date."""
    text = text.strip()
    if m := _ISO_DATE.match(text):
        y, mo, d = map(int, m.groups())
    elif m := _SLASH_DATE.match(text):
        a, b, y = map(int, m.groups())
        mo, d = (b, a) if a > 12 or (day_first and b <= 12) else (a, b)
    elif m := _DOTTED_DATE.match(text):
        d, mo, y = map(int, m.groups())
    else:
        return None
    try:
        return date(y, mo, d)
    except ValueError:
        return None


def slash_order(texts: Iterable[str]) -> bool | None:
    """A file's order of day and month in its '05/03/2024' dates: True (day first) when one of them
    has a first number above 12 ('31/12/2024') and none a second; False when the other way round;
    None when none says (or they disagree: each is then read on its own). A CRM exports every
    date of a file in one locale, so one unambiguous date decides the others'."""
    day_first = month_first = False
    for text in texts:
        if m := _SLASH_DATE.match(text.strip()):
            a, b, _ = map(int, m.groups())
            day_first |= a > 12
            month_first |= b > 12
    return None if day_first == month_first else day_first


def read_amount(text: str) -> tuple[Decimal | None, str]:
    """'$12,500.00' -> (12500.00, 'USD'), '12.500,50 €' -> (12500.50, 'EUR'), 'EUR 900' -> (900, 'EUR'),
    and with a unit, read as the company import reads a revenue (imports.numbers.read_revenue, in
    whole units): '€2.5k' -> (2500.00, 'EUR'), '$1.2M', '2,5 Mio'. (None, the currency it names,
    if any) when it is no amount, or one Outcome.amount cannot hold."""
    currency = ""
    low = text.strip().lower()
    for symbol, code in _SYMBOLS.items():
        if symbol in low:
            currency, low = code, low.replace(symbol, "")
    for word in re.findall(r"\b([a-z]{3})\b", low):
        if pycountry.currencies.get(alpha_3=word.upper()):  # 'EUR 900', not the 'mio' of '2,5 Mio'
            currency, low = word.upper(), low.replace(word, "")
            break
    number = re.sub(r"[\s'\u00a0]", "", low)
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d+)?|-?\d+,\d{1,2}", number):  # European: 12.500,50
        number = number.replace(".", "").replace(",", ".")
    amount = _decimal(number.replace(",", ""))
    if amount is None and (whole := numbers.read_revenue(text)) is not None:
        amount = Decimal(whole)
    if amount is None or abs(amount) >= MAX_AMOUNT:
        return None, currency
    return amount.quantize(Decimal("0.01")), currency


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None  # Decimal reads 'nan' and 'inf' too


# The outcome fields each deal field fills: a re-import writes only those of the columns the file
# maps (Deal.carries), and keeps what the file does not say.
_STORED: dict[str, tuple[str, ...]] = {
    "stage": ("stage", "stage_as_written"),
    "is_won": ("stage",),
    "is_closed": ("stage",),
    "closed_on": ("closed_on",),
    "amount": ("amount",),
    "currency": ("currency",),
    "deal_name": ("deal_name",),
}


def carried(mapping: dict[int, str]) -> frozenset[str]:
    """The outcome fields a file with this mapping says something about, besides its company."""
    return frozenset(stored for target in mapping.values() for stored in _STORED.get(target, ()))


def unread_amount_note(text: str) -> str:
    """What the preview and the import say of an amount that could not be read (the deal is kept)."""
    return f"the amount {text[:40]!r} could not be read: the deal is kept without an amount (write it as 12500.00)"


def doubled_columns(mapping: dict[int, str], headers: Sequence[str]) -> str:
    """What to fix where two or more columns are mapped to a field a deal has one of (all but MANY);
    '' when none is."""
    by_field: dict[str, list[int]] = {}
    for index, target in sorted(mapping.items()):
        by_field.setdefault(target, []).append(index)
    problems = []
    for target, indexes in by_field.items():
        if len(indexes) > 1 and target not in MANY:
            named = [f"{headers[i] if i < len(headers) else ''!r} (column {i + 1})" for i in indexes]
            listed = ", ".join(named[:-1]) + " and " + named[-1]
            both, others = ("both", "other") if len(indexes) == 2 else ("all", "others")
            problems.append(f"{listed} are {both} mapped to {FIELD_LABELS[target]}, which a deal has one of: "
                            f"keep one and set the {others} to ignore.")  # fmt: skip
    return " ".join(problems)


@dataclass
class Deal:
    """One deal row, read: its company's keys (any of them may be empty) and the deal."""

    line: int
    record_ids: list[str]
    domain: str
    name: str
    stage: str  # won / lost / open
    stage_as_written: str
    closed_on: date | None
    amount: Decimal | None
    currency: str
    deal_id: str
    deal_name: str
    values: list[str] = field(default_factory=list)
    closed_text: str = ""  # the close date as written: read again in the file's order (matching.read_file)
    amount_unread: str = ""  # the amount as written, where it could not be read (the deal is kept without one)
    carries: frozenset[str] = frozenset()  # the outcome fields the row says (carried): what a re-import writes

    @property
    def normalised_name(self) -> str:
        return normalise_name(self.name) if self.name else ""

    @property
    def key(self) -> str:
        """The deal's id, or one made of its company and name: stable when its stage changes."""
        if self.deal_id:
            return self.deal_id
        made = "|".join([",".join(self.record_ids), self.domain, self.normalised_name, self.deal_name.lower()])
        return "row:" + hashlib.sha1(made.encode()).hexdigest()[:20]


def _value(cells: list[str], mapping: dict[int, str], target: str) -> str:
    """The first non-empty cell of the columns mapped to `target`."""
    for index, mapped in sorted(mapping.items()):
        if mapped == target and index < len(cells) and cells[index].strip():
            return cells[index].strip()
    return ""


def to_deal(line: int, cells: list[str], mapping: dict[int, str], *, stages: dict[str, str]) -> Deal | Rejected:
    """One row read; a Rejected says what to fix (a company that matches nothing is the import's to say)."""
    get = lambda target: _value(cells, mapping, target).replace("\x00", "")  # noqa: E731
    record_ids = [r.strip() for r in re.split(r"[;,]", get("record_id")) if r.strip()]
    domain, name = read_website(get("domain")).domain, clean_name(get("name"))
    if not (record_ids or domain or name):
        return Rejected(line, "the row names no company: it needs a company record id, a domain or a name", cells)
    written = get("stage")
    stage = stage_of(written, chosen=stages)
    won, closed = get("is_won").lower(), get("is_closed").lower()
    if closed in _TRUE | _FALSE and get("is_closed"):  # Salesforce's IsClosed / IsWon decide
        stage = OPEN if closed in _FALSE else (WON if won in _TRUE else LOST)
    elif not written and won in _TRUE:
        stage = WON
    closed_text = get("closed_on")
    closed_on = read_date(closed_text) if closed_text else None
    if closed_text and closed_on is None:
        return Rejected(line, f"the close date {closed_text[:40]!r} is no date: write it as 2024-03-05", cells)
    amount_text = get("amount")
    amount, currency = read_amount(amount_text) if amount_text else (None, "")
    unread = amount_text if amount is None and not numbers.is_blank(amount_text) else ""
    deal_id = get("deal_id")
    if len(deal_id) > MAX_DEAL_ID:
        return Rejected(line, f"the deal id is {len(deal_id)} characters long; the limit is {MAX_DEAL_ID}", cells)
    given_currency = get("currency").upper()
    currency = given_currency if re.fullmatch(r"[A-Z]{3}", given_currency) else currency
    carries = carried(mapping) - ({"amount"} if unread else set()) | ({"currency"} if currency else set())
    return Deal(line, record_ids, domain, name, stage, written[:100], closed_on, amount, currency, deal_id,
                get("deal_name")[:300], cells, closed_text, unread, frozenset(carries))  # fmt: skip


def unknown_stages(rows: Sequence[Sequence[str]], mapping: dict[int, str]) -> list[str]:
    """The stages as written that no CRM's default pipeline names: read as open unless a manager says."""
    seen: dict[str, None] = {}
    for cells in rows:
        written = _value(list(cells), mapping, "stage")
        if written and not is_known_stage(written):
            seen.setdefault(written)
    return list(seen)


def parse_stage_choice(text: str) -> tuple[str, str]:
    """'Signed=won' (--stage) -> ('signed', 'won'); ValueError says what to write."""
    value, _, stage = text.rpartition("=")
    if not value.strip() or stage.strip().lower() not in STAGES:
        raise ValueError(f"--stage {text!r}: write it as VALUE=won, VALUE=lost or VALUE=open")
    return fold_stage(value), stage.strip().lower()
