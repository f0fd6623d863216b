from django.conf import settings
from django.core.management.base import BaseCommand

from leads.core import devstack


class Command(BaseCommand):
    help = "Stop the embedded Postgres and Redis (settings start them on demand)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["stop", "status"])

    def handle(self, *args, action, **options):
        if action == "status":
            self.stdout.write(
                f"data: {settings.LEADS_HOME}\ndatabase: {settings.DATABASES['default']['HOST']}"
                f"\nbroker: {settings.CELERY_BROKER_URL}"
            )
            return
        from django.db import connections

        connections.close_all()
        redis = devstack.stop_redis(settings.LEADS_HOME)
        postgres = devstack.stop_postgres(settings.LEADS_HOME)
        self.stdout.write(f"Stopped: postgres={postgres} redis={redis}")
