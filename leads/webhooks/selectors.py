"""What the webhooks pages, the command and the emitters read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q

from leads.crm.selectors import records_of
from leads.models import Company, WebhookDelivery, WebhookEndpoint
from leads.models.lookups import Ids

LOG_PAGE = 50  # deliveries shown per page of an endpoint's log


def listening(event: str, profile_id: int | None = None) -> list[WebhookEndpoint]:
    """The enabled endpoints subscribed to `event` (of the profile, for a verdict or a band change:
    those that name it or no profile; `profile_id` None, for an event not tied to a profile such as
    an import's: every one, whatever profiles it names): one look at a table of a few rows, so that
    a team without webhooks pays one indexed query and nothing more for each verdict."""
    endpoints = WebhookEndpoint.objects.filter(enabled=True, events__contains=[event])
    if profile_id is not None:
        endpoints = endpoints.filter(Q(profiles=[]) | Q(profiles__contains=[profile_id]))
    return list(endpoints)


@dataclass(frozen=True)
class EndpointRow:
    """An endpoint as the list shows it, with its log's counts."""

    endpoint: WebhookEndpoint
    delivered: int
    pending: int
    failed: int


def endpoint_rows() -> list[EndpointRow]:
    counted = WebhookEndpoint.objects.select_related("created_by").annotate(
        **{
            status: Count("deliveries", filter=Q(deliveries__status=status))
            for status in (
                WebhookDelivery.Status.DELIVERED,
                WebhookDelivery.Status.PENDING,
                WebhookDelivery.Status.FAILED,
            )
        }
    )
    return [EndpointRow(e, e.delivered, e.pending, e.failed) for e in counted]


def delivery_log(endpoint: WebhookEndpoint, *, page: int = 1, status: str = "") -> tuple[list[WebhookDelivery], bool]:
    """A page of the endpoint's deliveries, newest first (only `status`'s when given), and whether
    an older page exists."""
    rows = endpoint.deliveries.defer("payload").order_by("-created_at", "-pk")
    if status:
        rows = rows.filter(status=status)
    start = (max(page, 1) - 1) * LOG_PAGE
    found = list(rows[start : start + LOG_PAGE + 1])
    return found[:LOG_PAGE], len(found) > LOG_PAGE


def failed_deliveries(endpoint: WebhookEndpoint | None = None) -> list[int]:
    """Ids of the failed deliveries (of one endpoint, or all), oldest first: what `replay --failed` sends again."""
    rows = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED)
    if endpoint is not None:
        rows = rows.filter(endpoint=endpoint)
    return list(rows.order_by("created_at", "pk").values_list("pk", flat=True))


def companies_described(company_ids: Iterable[int]) -> dict[int, dict]:
    """id -> what a payload says of a company: id, name, domain and its CRM records, in two queries."""
    ids = list(company_ids)
    records = records_of(ids)
    return {
        pk: {
            "id": pk,
            "name": name,
            "domain": domain,
            "crm_records": [{"crm": r.crm, "record_id": r.record_id} for r in records.get(pk, [])],
        }
        for pk, name, domain in Company.objects.filter(pk__any_of=Ids(ids)).values_list("pk", "name", "domain")
    }
