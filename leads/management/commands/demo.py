from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from leads.models import Company
from leads.services.imports import create_job, run_import

DEMO_CSV = Path(__file__).resolve().parents[2] / "demo" / "companies.csv"
DEMO_USER, DEMO_PASSWORD = "demo", "leads-demo"


class Command(BaseCommand):
    help = "Create the demo user and, on an empty database, import the demo companies."

    def handle(self, *args, **options):
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USER).first()
        if user is None:
            user = User.objects.create_superuser(DEMO_USER, "demo@example.com", DEMO_PASSWORD)
        if not Company.objects.exists():
            job = run_import(create_job(path=DEMO_CSV, user=user))
            self.stdout.write(f"Imported {job.created} demo companies ({job.labels} already labelled).")
        self.stdout.write(self.style.SUCCESS(f"Log in as '{DEMO_USER}' with password '{DEMO_PASSWORD}'."))
