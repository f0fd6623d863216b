"""A deals file a manager confirms on the web is imported by a real `celery -A leads worker` (the
bulk queue), not in the request: the page's progress JSON follows it to the end, and the counts of
a first import and of a re-import that moves some deals on are right. Real database, Redis and
worker; no encoder is needed (a deals import embeds nothing)."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from leads.accounts import roles
from leads.core import queue
from leads.models import Company, Outcome, OutcomeImport
from tests.worker_helpers import start_worker

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

COMPANIES = 3_000


def deals_csv(*, won_from: int) -> str:
    """Two deals a company (lost below `won_from`, won from it), 40 rows whose domain names no
    company and 10 whose close date is no date."""
    rows = ["Record ID,Deal Name,Deal Stage,Close Date,Amount,Company Domain Name"]
    for i in range(COMPANIES):
        for n in (1, 2):
            stage = "Closed Won" if i >= won_from else "Closed Lost"
            rows.append(f"{i}-{n},Deal {n} of {i},{stage},2024-03-05,1000,dealco{i}.com")
    rows += [f"x-{i},Stray,Closed Won,2024-03-05,1,nobody{i}.example" for i in range(40)]
    rows += [f"d-{i},Bad date,Closed Won,sometime,1,dealco{i}.com" for i in range(10)]
    return "\n".join(rows) + "\n"


def import_on_the_web(client, content: str, worker) -> OutcomeImport:
    """Upload, confirm as HubSpot's, and follow the progress JSON, as the page does, until it ends."""
    client.post("/outcomes/", {"file": SimpleUploadedFile("deals.csv", content.encode(), content_type="text/csv")})
    job = OutcomeImport.objects.latest("pk")
    form = {f"column-{i}": target for i, target in job.column_mapping().items()}
    response = client.post(f"/outcomes/{job.pk}/", {**form, "crm": "hubspot", "action": "import"})
    assert response.status_code == 302 and response["Location"] == f"/outcomes/{job.pk}/"
    deadline = time.monotonic() + 120
    while not (progress := client.get(f"/outcomes/{job.pk}/progress").json())["finished"]:
        worker.assert_alive()
        assert time.monotonic() < deadline, f"the import did not finish: {progress}\n{worker.log_tail()}"
        time.sleep(0.2)
    assert progress["state"] == "done", progress
    job.refresh_from_db()
    return job


def test_a_deals_file_confirmed_on_the_web_is_imported_by_a_worker_with_the_right_counts(tmp_path, client, bob):
    bob.groups.set([Group.objects.get(name=roles.MANAGER)])
    client.force_login(bob)
    queue.purge()
    worker = start_worker(tmp_path, "deals", queues="bulk")
    try:
        # Its start-up sweep first, so that it neither embeds these companies nor sends a confirmed
        # import again (a duplicate run would do nothing, but the log would count it).
        deadline = time.monotonic() + 60
        while not re.search(r"Task leads\.sweep\[[^\]]+\] succeeded", worker.log()):
            worker.assert_alive()
            assert time.monotonic() < deadline, worker.log_tail()
            time.sleep(0.2)
        Company.objects.bulk_create(
            Company(name=f"Deal Co {i}", dedupe_key=f"dealco{i}.com", website=f"https://www.dealco{i}.com",
                    domain=f"dealco{i}.com")
            for i in range(COMPANIES)
        )  # fmt: skip
        first = import_on_the_web(client, deals_csv(won_from=COMPANIES), worker)
        # The CRM moved 500 companies' deals from lost to won since.
        again = import_on_the_web(client, deals_csv(won_from=COMPANIES - 500), worker)
    finally:
        worker.stop()
        queue.purge()
    rows = 2 * COMPANIES + 50
    assert (first.rows_read, first.created, first.updated, first.unchanged, first.rejected) == (
        rows, 2 * COMPANIES, 0, 0, 50)  # fmt: skip
    assert first.matched == {"record": 0, "domain": 2 * COMPANIES, "name": 0, "amount_unread": 0}
    assert (again.rows_read, again.created, again.updated, again.unchanged, again.rejected) == (
        rows, 0, 1_000, 2 * COMPANIES - 1_000, 50)  # fmt: skip
    assert Outcome.objects.count() == 2 * COMPANIES and Outcome.objects.filter(stage="won").count() == 1_000
    reasons = [row["reason"] for row in again.rejected_rows]
    assert sum("no company has the domain nobody" in r for r in reasons) == 40
    assert sum("the close date 'sometime' is no date" in r for r in reasons) == 10
    assert len(re.findall(r"Task leads\.run_outcome_import\[[^\]]+\] succeeded", worker.log())) == 2
    page = " ".join(client.get(f"/outcomes/{again.pk}/").content.decode().split())
    assert f"{rows} rows, 0 new deals, 1000 updated, 5000 unchanged, 50 rejected." in page
