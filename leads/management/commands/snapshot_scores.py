from django.core.management.base import BaseCommand

from leads.profiles import selectors as profiles
from leads.scoring.snapshots import take_snapshot


class Command(BaseCommand):
    help = (
        "Keep today's scores (fit and band of every scored company) for the outcomes report; the sweep does it daily."
    )

    def handle(self, *args, **options):
        snapshot = take_snapshot(profile_id=profiles.current_id())
        size = len(snapshot.ids) + len(snapshot.fits) + len(snapshot.bands)
        self.stdout.write(f"Snapshot of {snapshot.taken_on}: {snapshot.companies} companies, {size:,} bytes.")
