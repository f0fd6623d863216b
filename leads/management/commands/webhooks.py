"""manage.py webhooks add|list|remove|replay|test: the webhooks page's work from the command line."""

from django.core.management.base import BaseCommand, CommandError

from leads.models import WebhookDelivery, WebhookEndpoint
from leads.webhooks import selectors, services


def _words(value: str) -> list[str]:
    return [word for word in value.replace(" ", ",").split(",") if word]


class Command(BaseCommand):
    help = "Manage webhook endpoints: add URL --events ..., list, remove ID, replay DELIVERY_ID | --failed, test ID."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True)
        add = commands.add_parser("add", help="register an endpoint; prints its signing secret")
        add.add_argument("url")
        add.add_argument("--events", required=True, help=f"comma-separated: {', '.join(services.SUBSCRIBABLE)}")
        add.add_argument("--bands", default="", help="only band changes into or out of these (comma-separated)")
        add.add_argument("--profiles", default="", help="only these profiles' verdicts and band changes (ids or names)")
        add.add_argument("--description", default="")
        commands.add_parser("list", help="the endpoints, their secrets and their deliveries' counts")
        remove = commands.add_parser("remove", help="delete an endpoint and its delivery log")
        remove.add_argument("id", type=int)
        replay = commands.add_parser("replay", help="send a delivery again (same id and body)")
        replay.add_argument("delivery", nargs="?", type=int)
        replay.add_argument("--failed", action="store_true", help="every failed delivery")
        test = commands.add_parser("test", help="send a webhook.test event to an endpoint")
        test.add_argument("id", type=int)

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _add(self, url, events, bands, profiles, description, **options):
        try:
            endpoint = services.endpoint_create(
                url=url, events=_words(events), bands=_words(bands), profiles=_words(profiles), description=description
            )
        except services.InvalidEndpoint as invalid:
            raise CommandError(str(invalid)) from None
        self.stdout.write(f"Endpoint {endpoint.pk}: {endpoint.url}\nSigning secret: {endpoint.secret}")

    def _list(self, **options):
        rows = selectors.endpoint_rows()
        if not rows:
            self.stdout.write("No endpoints.")
        for row in rows:
            e = row.endpoint
            state = "enabled" if e.enabled else f"DISABLED: {e.disabled_reason or 'by a manager'}"
            self.stdout.write(
                f"{e.pk}\t{e.url}\t{','.join(e.events)}\tbands: {','.join(e.bands) or 'all'}"
                f"\tprofiles: {','.join(map(str, e.profiles)) or 'all'}\t{state}\n"
                f"\tsecret {e.secret}\tdelivered {row.delivered}, pending {row.pending}, failed {row.failed}"
            )

    def _remove(self, id, **options):
        services.endpoint_delete(endpoint=self._endpoint(id))
        self.stdout.write(f"Endpoint {id} removed.")

    def _replay(self, delivery, failed, **options):
        if failed == (delivery is not None):
            raise CommandError("give one delivery id, or --failed for every failed delivery")
        if failed:
            self.stdout.write(f"Replaying {services.replay_failed()} failed deliveries.")
            return
        found = WebhookDelivery.objects.filter(pk=delivery).first()
        if found is None:
            raise CommandError(f"no delivery {delivery}: the webhooks page lists them under each endpoint")
        services.replay(delivery=found)
        self.stdout.write(f"Replaying {found.message_id}.")

    def _test(self, id, **options):
        delivery = services.send_test(endpoint=self._endpoint(id))
        self.stdout.write(f"Test event {delivery.message_id} queued.")

    def _endpoint(self, pk: int) -> WebhookEndpoint:
        found = WebhookEndpoint.objects.filter(pk=pk).first()
        if found is None:
            raise CommandError(f"no endpoint {pk}: `manage.py webhooks list` shows them")
        return found
