"""Giving and clearing verdicts: the only code that writes labels or Company.verdict."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, transaction

from leads.models import Company, Label, LabelSource, Verdict
from leads.services.scores import labels_changed


class InvalidVerdict(ValueError):
    pass


def parse_verdict(value: object) -> Verdict:
    try:
        return Verdict(str(value).strip().lower())
    except ValueError:
        raise InvalidVerdict(f"verdict must be one of: like, dislike, clear (got {value!r})") from None


@transaction.atomic
def label_company(*, company: Company, user, verdict: Verdict | str, source: LabelSource) -> Label:
    """Record a verdict (or a clear) in the history, make it current and queue the rescore.

    The company row is locked first, so that concurrent verdicts on one company are applied
    in the order of their history: the current verdict is always the latest label."""
    verdict = parse_verdict(verdict)
    before = Company.objects.select_for_update().filter(pk=company.pk).values_list("verdict", flat=True).first()
    label = Label.objects.create(company=company, user=user, verdict=verdict, source=LabelSource(source))
    company.verdict = "" if verdict == Verdict.CLEAR else verdict.value
    Company.objects.filter(pk=company.pk).update(verdict=company.verdict)
    labels_changed([company.pk], entered=[company.pk] if company.verdict and not before else [])
    return label


_LABEL_MANY = """
with incoming as (
    select t.id, t.verdict, c.verdict as before from unnest(%(ids)s::bigint[], %(verdicts)s::text[]) as t(id, verdict)
    join leads_company c on c.id = t.id
    where c.verdict <> (case when t.verdict = 'clear' then '' else t.verdict end)
    order by t.id
), history as (
    insert into leads_label (company_id, user_id, verdict, source, created_at)
    select id, %(user)s, verdict, %(source)s, now() from incoming
)
update leads_company c set verdict = case when incoming.verdict = 'clear' then '' else incoming.verdict end
from incoming where c.id = incoming.id
returning c.id, incoming.before = '' and c.verdict <> ''
"""


@transaction.atomic
def label_companies(*, verdicts: Sequence[tuple[int, Verdict | str]], user, source: LabelSource) -> int:
    """Set many verdicts at once (an import, an admin bulk action); a company whose verdict is
    already the given one is left alone. Returns how many companies changed."""
    if not verdicts:
        return 0
    parsed = {int(company_id): parse_verdict(verdict).value for company_id, verdict in verdicts}
    ids = sorted(parsed)
    with connection.cursor() as cursor:
        cursor.execute("select id from leads_company where id = any(%s) order by id for update", [ids])
        cursor.execute(
            _LABEL_MANY,
            {"ids": ids, "verdicts": [parsed[i] for i in ids], "user": getattr(user, "pk", None), "source": source},
        )
        rows = cursor.fetchall()
    changed = [company_id for company_id, _ in rows]
    if changed:
        labels_changed(changed, entered=[company_id for company_id, entered in rows if entered])
    return len(changed)
