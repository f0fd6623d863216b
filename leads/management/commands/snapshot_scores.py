from django.core.management.base import BaseCommand

from leads.scoring import services as scores
from leads.scoring.snapshots import take_snapshot


class Command(BaseCommand):
    help = (
        "Keep today's scores (fit and band of every scored company, in each profile) for the outcomes report; "
        "the sweep does it daily."
    )

    def handle(self, *args, **options):
        profile_ids = scores.scoring_profiles()  # every profile, as the sweep's daily snapshot
        for profile_id in profile_ids:
            snapshot = take_snapshot(profile_id=profile_id)
            size = len(snapshot.ids) + len(snapshot.fits) + len(snapshot.bands)
            where = f" (profile {profile_id})" if len(profile_ids) > 1 else ""
            self.stdout.write(
                f"Snapshot of {snapshot.taken_on}{where}: {snapshot.companies} companies, {size:,} bytes."
            )
