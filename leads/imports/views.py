"""Staff pages for imports (CSV or Excel): upload, preview and column mapping, live progress."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from leads.accounts import roles
from leads.core import queue
from leads.crm import names as crm_names
from leads.imports import csvfiles, headers, jobs
from leads.imports import selectors as import_selectors
from leads.imports import services as imports
from leads.imports.csvfiles import UnreadableFile
from leads.models import ImportJob, Profile
from leads.profiles import selectors as profiles

FIELD_CHOICES = [
    ("name", "Name"),
    ("website", "Website"),
    ("description", "Description"),
    ("industry", "Industry"),
    ("country", "Country"),
    ("label", "Label (like / dislike)"),
    ("crm_id", "CRM record id"),
    ("ignore", "Ignore this column"),
]
SAMPLE_VALUES = 3  # of each column, beside its dropdown; the first rows as read show whole below

# Room for the form's other fields and the multipart boundaries around the file, in bytes.
_FORM_OVERHEAD = 64 * 1024


@roles.required(roles.IMPORT)
@require_http_methods(["GET", "POST"])
@csrf_exempt  # checked below, once we know the body is worth reading: the check reads it
def upload(request: HttpRequest) -> HttpResponse:
    """A file over the limit is refused from the size the browser declares, before its body is read."""
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if request.method == "POST" and declared > settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024 + _FORM_OVERHEAD:
        try:
            jobs.check_size(declared)
        except UnreadableFile as problem:
            return _upload_page(request, str(problem))
    return _upload(request)


@csrf_protect
def _upload(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        uploaded = request.FILES.get("file")
        if uploaded is None:
            error = "Choose a CSV or Excel file to upload."
        else:
            try:
                jobs.check_size(uploaded.size)
                job = imports.create_job_from_stream(
                    uploaded.file, name=uploaded.name, size=uploaded.size, user=request.user
                )
            except UnreadableFile as problem:
                error = str(problem)
            else:
                return redirect("import-detail", job.pk)
    return _upload_page(request, error)


def _upload_page(request: HttpRequest, error: str) -> HttpResponse:
    return render(
        request,
        "leads/import_upload.html",
        {
            "error": error,
            "max_mb": settings.IMPORT_MAX_UPLOAD_MB,
            "jobs": ImportJob.objects.select_related("user")[:20],
        },
        status=400 if error else 200,
    )


@roles.required(roles.IMPORT)
@require_http_methods(["GET", "POST"])
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Preview and mapping while the job waits for confirmation; progress afterwards. The file is
    read at most once a request: a workbook's string table is parsed on every reading."""
    job = get_object_or_404(ImportJob, pk=pk)
    error, preview, mapping = "", None, None
    if request.method == "POST" and request.POST.get("action") == "cancel":
        return _cancel(request, job)
    if request.method == "POST" and job.state == ImportJob.State.PENDING:
        try:
            if request.POST.get("action") == "reread":
                # The mapping form's choices come along (the dropdowns belong to both forms' buttons).
                mapping = _posted_mapping(request, job) if "column-0" in request.POST else None
                imports.change_dialect(
                    job,
                    encoding=request.POST.get("encoding", ""),
                    delimiter=request.POST.get("delimiter", ""),
                    mapping=mapping,
                )
                return redirect("import-detail", job.pk)
            if request.POST.get("action") == "sheet":
                imports.change_sheet(job, sheet=request.POST.get("sheet", ""))
                return redirect("import-detail", job.pk)
            mapping = _posted_mapping(request, job)
            if "crm_id" in mapping.values():
                imports.choose_crm(job, _posted_crm(request))
            if "description" not in mapping.values():
                # Refused unless it is a CRM export; the page's reading of the file says why
                # (change_mapping would read it too).
                preview = import_selectors.import_preview(job, mapping)
                if preview.mapping_problem:
                    raise UnreadableFile(preview.mapping_problem)
            imports.change_mapping(job, mapping)
            chosen = Profile.objects.get(pk=profiles.current_id(request))  # the preview's, or the page's
            if chosen.archived_at is not None and "label" in mapping.values():
                raise UnreadableFile(
                    f"The profile {chosen.name!r} is archived and takes no verdicts: choose an active profile "
                    "for the file's labels, or map the label column to “Ignore this column”."
                )
            jobs.choose_profile(job, chosen.pk)
            imports.start_import(job)
            if queue.queue_is_down():  # confirmed and kept; the sweep starts it once Redis is back
                messages.warning(request, "The task queue is unreachable: the import starts once it is back.")
            return redirect("import-detail", job.pk)
        except UnreadableFile as problem:
            error = str(problem)
    elif request.method == "POST":
        messages.info(request, "This import was already confirmed.")
        return redirect("import-detail", job.pk)
    if job.state != ImportJob.State.PENDING:
        return render(request, "leads/import_progress.html", {"job": job, "progress": _progress(request, job)})
    return _preview_page(request, job, error, preview, mapping)


def _cancel(request: HttpRequest, job: ImportJob) -> HttpResponse:
    """Cancel on the preview: the waiting job and its file go; one already confirmed stays."""
    if imports.cancel_job(job):
        messages.success(request, f"The import of {job.original_name} was cancelled and its file deleted.")
        return redirect("import-upload")
    messages.info(request, "This import was already confirmed, so it cannot be cancelled: it runs to its end.")
    return redirect("import-detail", job.pk)


def _preview_page(
    request: HttpRequest, job: ImportJob, error: str, preview, mapping: dict[int, str] | None = None
) -> HttpResponse:
    """A file that cannot be read (a workbook kept from before a bound) is said so, in one sentence; the job keeps it."""
    try:
        preview = preview or import_selectors.import_preview(job)
        sheets = imports.sheet_names(job)
    except UnreadableFile as problem:
        error, preview, sheets = error or str(problem), import_selectors.ImportPreview([], ""), []
    active = list(profiles.visible_to(request.user).filter(archived_at__isnull=True))
    archived = Profile.objects.filter(pk=profiles.current_id(request), archived_at__isnull=False).first()
    return render(
        request,
        "leads/import_preview.html",
        {
            "job": job,
            "error": error,
            "columns": _columns(job, preview.rows, mapping),
            "preview": preview.rows,
            "field_choices": FIELD_CHOICES,
            "encodings": imports.ENCODINGS,
            "delimiters": csvfiles.DELIMITER_NAMES,
            "sheets": sheets,
            "rows_counted": job.rows_counted_on_upload,
            "mapping_problem": "" if error else preview.mapping_problem,
            "crm_choices": crm_names.KNOWN.items(),
            "crm_other": "" if job.crm in crm_names.KNOWN else crm_names.crm_label(job.crm) if job.crm else "",
            "unreadable": preview.unreadable,
            "note": "" if error else preview.note,
            # Where a label column's verdicts go: a choice with several active profiles, and one to
            # make on purpose while working in an archived profile (it takes no verdicts).
            "archived_profile": archived,
            "label_profiles": active if len(active) > 1 or archived else [],
        },
        status=400 if error else 200,
    )


def _posted_crm(request: HttpRequest) -> str:
    """The CRM named on the preview: one of the known, or the name typed beside "Other"."""
    chosen = request.POST.get("crm", "")
    if chosen in crm_names.KNOWN:
        return crm_names.KNOWN[chosen]
    return request.POST.get("crm_other", "")  # "other", or nothing chosen: what was typed, if anything


def _posted_mapping(request: HttpRequest, job: ImportJob) -> dict[int, str]:
    mapping = {}
    for index in range(len(job.headers)):
        target = request.POST.get(f"column-{index}", "ignore")
        if target == "extra":
            target = "extra:" + _kept_name(job, index)
        mapping[index] = target
    return mapping


def _kept_name(job: ImportJob, index: int) -> str:
    """The name a column is kept under in `extra`: its current one, or its header snake_cased."""
    current = job.column_mapping().get(index, "")
    if current.startswith("extra:"):
        return current.removeprefix("extra:")
    return headers.snake_case(job.headers[index]) or f"column_{index + 1}"


@dataclass(frozen=True)
class MappingLine:
    """One column of the file as the preview's mapping shows it: a line of its own with its header,
    its first values and the dropdown of where it goes, so that any number of columns fits."""

    index: int
    header: str
    target: str  # a FIELD_CHOICES value, or "extra": kept under extra_name
    extra_name: str
    values: list[str]  # its first SAMPLE_VALUES values that are not blank, in the previewed rows


def _columns(job: ImportJob, rows: list[list[str]], mapping: dict[int, str] | None = None) -> list[MappingLine]:
    """Each header with its current target (the job's, or the one the user posted and we refused:
    the page keeps every choice); kept columns show under the name they keep."""
    mapping = job.column_mapping() if mapping is None else mapping
    lines = []
    for index, header in enumerate(job.headers):
        target = mapping.get(index, "ignore")
        target = "extra" if target.startswith("extra:") else target
        values = [row[index].strip() for row in rows if index < len(row) and row[index].strip()]
        lines.append(MappingLine(index, header, target, _kept_name(job, index), values[:SAMPLE_VALUES]))
    return lines


@roles.required(roles.IMPORT)
@require_GET
def progress(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(_progress(request, get_object_or_404(ImportJob, pk=pk)))


def _progress(request: HttpRequest, job: ImportJob) -> dict:
    """The bars of the import, scored in the profile the page works in."""
    return import_selectors.import_progress(job, profile_id=profiles.current_id(request))


@roles.required(roles.IMPORT)
@require_GET
def rejected_rows(request: HttpRequest, pk: int) -> FileResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    if not job.rejected_file:
        raise Http404("This import rejected no rows.")
    stem = job.original_name.rsplit(".", 1)[0] or "import"
    return FileResponse(job.rejected_file.open("rb"), as_attachment=True, filename=f"{stem}-rejected-rows.csv")
