"""Helpers shared by the staff import page tests (test_import_upload and
test_import_progress): upload a file through Django's test client, confirm its mapping,
and read the page back as text."""

from __future__ import annotations

import html

from django.core.files.uploadedfile import SimpleUploadedFile

from leads.models import ImportJob

PROSPECTS = (
    "company,website,about,sector,country,employees,pitch,internal id\n"
    "Hopfield Brewery,hopfield.com,Craft brewery making lager.,Brewery,GB,40,Loves cold chains,H-1\n"
    "Pixel Forge,pixelforge.dev,Developer tools for code review.,Software,US,80,Big on CI,P-2\n"
    "Frostline,frostline.io,Refrigerated trucks.,Logistics,DE,300,Fleet of 40,F-3\n"
    ",nameless.example,A row without a name.,Retail,FR,,,X-4\n"
)


def upload(client, content: bytes | str, name: str = "prospects.csv"):
    if isinstance(content, str):
        content = content.encode()
    return client.post("/imports/", {"file": SimpleUploadedFile(name, content, content_type="text/csv")})


def uploaded_job(client, content: bytes | str = PROSPECTS, name: str = "prospects.csv") -> ImportJob:
    response = upload(client, content, name)
    assert response.status_code == 302, text(response)
    job = ImportJob.objects.get()
    assert response["Location"] == f"/imports/{job.pk}/"
    return job


def confirm(client, job: ImportJob, **overrides: str):
    """Post the mapping form: the suggested targets, with some columns changed."""
    data = {f"column-{i}": _select_value(target) for i, target in job.column_mapping().items()}
    return client.post(f"/imports/{job.pk}/", {**data, **overrides})


def _select_value(target: str) -> str:
    return "extra" if target.startswith("extra:") else target


def text(response) -> str:
    return html.unescape(response.content.decode())
