"""Admin for managers reviewing scored companies."""

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import IntegerField, Subquery, Value
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from leads.accounts import roles
from leads.admin import crm as admin_crm
from leads.admin import filters
from leads.admin import owners as admin_owners
from leads.admin.orders import FIT_FIRST, BlanksLast, CappedPaginator, FitFirst
from leads.admin.readonly import ReadOnlyAdmin
from leads.companies import distribution as fit_distribution
from leads.companies import exports, identity, nearest, selectors
from leads.companies import services as companies
from leads.companies.views import WATCH_SINCE
from leads.core import words
from leads.embedding import active
from leads.embedding import services as embeddings
from leads.models import ApiToken, Company, ImportJob, Label, LabelSource, Verdict
from leads.profiles import selectors as profiles
from leads.scoring import explanations
from leads.scoring import services as scores
from leads.scoring.labels import label_companies


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0
    fields = ["verdict", "user", "source", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        """The company's history in the profile the admin works in."""
        return super().get_queryset(request).filter(profile_id=profiles.current_id(request))


def _verdict_action(verdict: Verdict, description: str):
    @admin.action(description=description, permissions=["label"])
    def action(modeladmin, request, queryset):
        selected = list(queryset.values_list("pk", flat=True))
        given_at = timezone.now()
        changed = label_companies(
            profile_id=profiles.current_id(request),
            verdicts=[(pk, verdict) for pk in selected],
            user=request.user,
            source=LabelSource.ADMIN,
        )
        modeladmin.message_user(request, _verdict_note(changed, len(selected)))
        if changed:  # the list it goes back to watches the pass, then shows the new scores (admin-scores.js)
            request.session[WATCH_SINCE] = given_at.isoformat()

    action.__name__ = f"mark_{verdict.value}"
    return action


def _verdict_note(changed: int, selected: int) -> str:
    """'1 company changed; its neighbours' …', 'No company changed: …': what a verdict action did."""
    if not changed:
        return f"No company changed: the selected {'one' if selected == 1 else 'ones'} already had that verdict."
    note = f"{words.companies(changed)} changed; {'its' if changed == 1 else 'their'} neighbours' scores update in a moment."
    if already := selected - changed:
        note += f" {already:,} already had that verdict."
    return note


class CompanyForm(forms.ModelForm):
    """The import's rules for names and websites (leads/companies/identity.py), with the same messages."""

    class Meta:
        model = Company
        fields = ["name", "website", "description", "industry", "country"]

    def clean_name(self) -> str:
        name = identity.clean_name(self.cleaned_data["name"])
        if not name:
            raise ValidationError("A company needs a name with at least one visible character.")
        return name

    def clean_website(self) -> str:
        website = self.cleaned_data["website"]
        if problem := identity.read_website(website).problem:
            raise ValidationError(problem[0].upper() + problem[1:] + ".")
        return website

    def validate_unique(self) -> None:
        """Another company with this website (or, without one, this name and country) is said on
        the field, naming and linking it, not met as the database's refusal (a 500) in save_model.
        Runs after the fields are cleaned and copied onto the instance."""
        super().validate_unique()
        if any(self.has_error(name) for name in ("name", "website", "country")):
            return  # the key would be read off what was refused
        if duplicate := companies.duplicate_of(self.instance):
            self.add_error("website" if duplicate.by_website else "name", _duplicate_message(duplicate))


def _duplicate_message(duplicate: companies.DuplicateCompany) -> ValidationError:
    existing = duplicate.existing
    what = f"this website ({existing.domain})" if duplicate.by_website else "this name and country, and no website"
    return ValidationError(
        format_html(
            "{} already has {}: change that company, or give this one another {}.",
            _admin_link(existing, existing.pk),
            what,
            "website" if duplicate.by_website else "name or country",
        )
    )


def _latest_label(field: str, profile_id: int) -> Subquery:
    return Label.objects.current_of_company(field, profile_id)


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    form = CompanyForm
    list_display = [
        "name", "domain", "score_value", "verdict", "labelled", "owner", "embedded", "import_job",
        "employees_column", "founded_column", "revenue_column",  # the typed numbers: sortable, read with the row
    ]  # fmt: skip
    list_filter = [
        filters.ProfileFilter, filters.BandFilter, filters.LabelledFilter, filters.LabelSourceFilter, filters.EmbeddingStatusFilter,
        filters.LowConfidenceFilter, filters.IndustryFilter, filters.CountryFilter, "import_job", "owner", admin_crm.CrmFilter,
    ]  # fmt: skip
    # The search box shows when search_fields is set; get_search_results searches as the dashboard does.
    search_fields = ["name", "domain", "description"]
    list_select_related = ["import_job", "owner"]  # and the score: get_queryset reads the companies in a profile
    # Best fit first as on the dashboard, then the companies without a score (FIT_FIRST: a page of
    # it is two index walks, get_paginator). The model's order (by name) sorted a million rows.
    ordering = FIT_FIRST
    paginator = CappedPaginator
    show_full_result_count = False  # counting a million rows on every page is slow
    # What a manager reads: not the dedupe key or the text hash (bookkeeping), and the columns an
    # import brought as a list of their own (extra_columns), not raw JSON.
    fields = [
        "name", "website", "domain", "description", "industry", "country", "country_as_given", "extra_columns",
        "employees", "founded", "revenue", "verdict", "owner", "import_job", "created_at", "updated_at", "score_explanation", "similar", "company_notes",
        "crm_record_ids",
    ]  # fmt: skip
    readonly_fields = [
        "domain", "country_as_given", "extra_columns", "employees", "founded", "revenue", "verdict", "owner",
        "import_job", "created_at", "updated_at", "score_explanation", "similar", "company_notes", "crm_record_ids",
    ]  # fmt: skip
    inlines = [LabelInline]
    action_form = admin_owners.AssignActionForm
    actions = [
        _verdict_action(Verdict.LIKE, "Like the selected companies"),
        _verdict_action(Verdict.DISLIKE, "Dislike the selected companies"),
        _verdict_action(Verdict.CLEAR, "Clear the verdict of the selected companies"),
        admin_owners.assign_to,
        admin_owners.unassign,
        "reembed",
        "rescore",
        "export_csv",
    ]

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":  # back from a verdict action: watch its rescore (change_list.html)
            watch = {"watch_since": request.session.pop(WATCH_SINCE, ""), "profile_id": profiles.current_id(request)}
            extra_context = {**(extra_context or {}), **watch}
        return super().changelist_view(request, extra_context)

    # Every write goes through the services, which keep vectors, labels and scores in step.
    def save_model(self, request, obj, form, change):
        companies.save_company(obj)

    def delete_model(self, request, obj):
        companies.delete_companies([obj])

    def delete_queryset(self, request, queryset):
        companies.delete_companies(queryset)

    def get_queryset(self, request):
        profile_id = profiles.current_id(request)
        companies = (
            super()
            .get_queryset(request)
            .in_profile(profile_id)
            .with_embedding_status(active.model_name())
            .annotate(
                # The profile they were read in, for the columns and fields that read more of it.
                profile_id=Value(profile_id, output_field=IntegerField()),
                latest_label_user=_latest_label("user__username", profile_id),
                latest_label_source=_latest_label("source", profile_id),
                latest_label_at=_latest_label("created_at", profile_id),
            )
        )
        if by_fit := self._sorted_by_score(request):
            # The scored companies, read off the score index (a million unscored ones would be
            # sorted after them on every page view); the "not scored" band lists the others. Ties
            # by id as the index holds them, whichever way it is walked (the changelist puts the columns clicked before this order).
            companies = companies.filter(score__isnull=False).order_by("-id" if by_fit == "worst" else "id")
        return companies

    def get_ordering(self, request):
        # Filters that list only companies without a score: best fit first is newest first there,
        # off the primary key (FitFirst would look for their scores first, and Postgres cannot tell there are none).
        return ["-id"] if filters.unscored_only(request.GET) else FIT_FIRST

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        # FIT_FIRST's order read a page at a time off the indexes; any other (a column clicked, the
        # filters of unscored companies, the history) is one query, off an index.
        if queryset.query.order_by[: len(FIT_FIRST)] != tuple(FIT_FIRST):
            return super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)
        rows = FitFirst(queryset, profile_id=profiles.current_id(request), count_limit=CappedPaginator.COUNT_LIMIT)
        return Paginator(rows, per_page, orphans, allow_empty_first_page)

    def get_search_results(self, request, queryset, search_term):
        """Words of the name, domain, industry and description, through the dashboard's indexes
        (a substring search would scan a million descriptions)."""
        return queryset.search(search_term), False

    def _sorted_by_score(self, request) -> str:
        """How the list is sorted by fit: "best" first (the column's first click), "worst" first, or "" not by fit."""
        column = str(self.list_display.index("score_value") + 1)  # the admin's "o" counts the checkbox
        for part in request.GET.get(ORDER_VAR, "").split("."):
            if part.removeprefix("-") == column:
                return "worst" if part.startswith("-") else "best"
        return ""

    # Best fit first on the first click, worst first on the second: the score index either way.
    @admin.display(description="fit", ordering="-score__fit")
    def score_value(self, company):
        score = company.score
        if score is None or company.verdict:  # labelled: its old score goes with the next pass
            return "—"
        band = fit_distribution.band_of(score, fit_distribution.score_distribution(company.profile_id))
        return format_html(
            '<span title="score {}" style="white-space: nowrap">{} {}</span><br><small>evidence {}</small>',
            score.signed,
            score.signed_fit,
            band.label,
            f"{score.evidence:.1f}",
        )

    # The typed numbers, blanks last whichever way (a method: a plain field sorts them first descending).
    @admin.display(description="employees", ordering=BlanksLast("employees"))
    def employees_column(self, company):
        return company.employees

    @admin.display(description="founded", ordering=BlanksLast("founded"))
    def founded_column(self, company):
        return company.founded

    @admin.display(description="revenue", ordering=BlanksLast("revenue"))
    def revenue_column(self, company):
        return company.revenue

    @admin.display(description="verdict", ordering="verdict")
    def verdict(self, company):
        return Verdict(company.verdict).label if company.verdict else None  # None: the admin's "-"

    @admin.display(description="columns the import brought")
    def extra_columns(self, company):
        if not company.extra:
            return "None."
        return format_html(
            '<dl class="extra">{}</dl>',
            format_html_join(
                "", "<dt>{}</dt><dd>{}</dd>", sorted((str(k), str(v)) for k, v in company.figures.items())
            ),
        )

    @admin.display(description="labelled by")
    def labelled(self, company):
        if not company.verdict or company.latest_label_at is None:
            return "—"
        who = company.latest_label_user or "(deleted user)"
        when = date_format(timezone.localtime(company.latest_label_at), "SHORT_DATETIME_FORMAT")
        return f"{who}, {when}, {LabelSource(company.latest_label_source).label}"

    @admin.display(description="embedded", boolean=True, ordering="is_embedded")
    def embedded(self, company):
        return company.is_embedded

    @admin.display(description="the neighbours that made its score")
    def score_explanation(self, company):
        neighbours = explanations.score_explanation(company)
        if not neighbours:
            return "Not scored (labelled, waiting for embedding, or nothing labelled yet)."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}%</td></tr>",
            (
                (_admin_link(n.company, n.company_id), n.verdict, f"{100 * n.similarity:.0f}%", f"{100 * n.share:.0f}")
                for n in neighbours
            ),
        )
        return format_html(
            "<p>{}</p><table><tr><th>neighbour</th><th>label</th><th>similarity</th><th>weight</th></tr>{}</table>",
            explanations.explanation_sentence(company, neighbours),
            rows,
        )

    @admin.display(description="notes")
    def company_notes(self, company):
        return admin_owners.notes_html(company)

    @admin.display(description="CRM records")
    def crm_record_ids(self, company):
        return admin_crm.records_html(company)

    @admin.display(description="similar companies")
    def similar(self, company):
        found = nearest.similar_companies(company, profile_id=company.profile_id, limit=10)
        if not found:
            return "None yet (not embedded)."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} ({} similar) {}</li>",
                (
                    (
                        _admin_link(s.company, s.company.pk),
                        f"{100 * s.similarity:.0f}%",
                        Verdict(s.company.verdict).label if s.company.verdict else "",
                    )
                    for s in found
                ),
            ),
        )

    # The bulk actions go to the roles that may do the same in the app (leads.accounts.roles): labelling to
    # reps and managers (an admin may not label), re-embedding, rescoring and exporting a
    # selection to managers. Django asks has_<name>_permission for each name in permissions=.
    def has_label_permission(self, request) -> bool:
        return request.user.has_perm(roles.LABEL)

    def has_assign_permission(self, request) -> bool:
        return request.user.has_perm(roles.ASSIGN)

    def has_review_permission(self, request) -> bool:
        return request.user.has_perm(roles.REVIEW)

    @admin.action(description="Embed the selected companies again", permissions=["review"])
    def reembed(self, request, queryset):
        batches = embeddings.queue_embedding(list(queryset.order_by("pk").values_list("pk", flat=True)))
        self.message_user(
            request, f"Queued for embedding in {batches:,} batch{'' if batches == 1 else 'es'}; their scores follow."
        )

    @admin.action(description="Rescore the selected companies", permissions=["review"])
    def rescore(self, request, queryset):
        scored = scores.score_companies_in(profiles.current_id(request), queryset.values_list("pk", flat=True))
        self.message_user(
            request, f"{words.companies(scored)} rescored (labelled ones and ones waiting for embedding have no score)."
        )

    @admin.action(description="Export the selected companies to CSV", permissions=["review"])
    def export_csv(self, request, queryset):
        stamp = timezone.localtime().strftime("%Y-%m-%d")
        profile_id = profiles.current_id(request)
        response = StreamingHttpResponse(
            exports.stream_scores(
                selectors.BestFirst(selectors.Selection(queryset.select_related("owner"), profile_id)),
                profile_id=profile_id,
            ),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="leads-selected-{stamp}.csv"'
        return response


def _admin_link(company: Company | None, company_id: int):
    if company is None:
        return f"company {company_id} (deleted)"
    return format_html('<a href="{}">{}</a>', reverse("admin:leads_company_change", args=[company.pk]), company.name)


@admin.register(Label)
class LabelAdmin(ReadOnlyAdmin):
    """Read-only history: verdicts are given on the dashboard, the API, an import or the
    company list's actions, all through scoring.labels."""

    list_display = ["company", "verdict", "user", "source", "created_at"]
    list_filter = ["verdict", "source", "user"]
    search_fields = ["company__name"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["original_name", "state", "user", "rows_read", "created", "updated", "rejected", "created_at"]
    list_filter = ["state"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff see whose tokens exist and revoke one by deleting it. Neither the key (never
    stored) nor its hash is shown; reps make their own on /account/token, which shows the key once."""

    list_display = ["prefix", "user", "created_at", "last_used_at"]
    fields = list_display
    readonly_fields = list_display
    search_fields = ["user__username", "prefix"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# Users and groups: their own module (admins give the roles, only a superuser gives more).
from leads.admin import accounts as admin_accounts  # noqa: E402, F401
