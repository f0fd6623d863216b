"""The company admin's list filters: embedding status, band, labelled or not, a label's source,
low confidence, and industry and country typed as text. The band and label filters are of the
profile the admin works in (CompanyAdmin.get_queryset reads the companies in it)."""

from django.contrib import admin

from leads.companies import selectors
from leads.embedding import active
from leads.models import LabelSource, Verdict
from leads.profiles import selectors as profiles
from leads.scoring import bands


class ProfileFilter(admin.SimpleListFilter):
    """The profile the list works in (`?profile=`, as on every page; remembered). Only with a
    second active profile. The companies are read in it by CompanyAdmin.get_queryset, which asks
    profiles.current_id(request): nothing to filter here."""

    title = "profile"
    parameter_name = profiles.PARAM

    def lookups(self, request, model_admin):
        return [(str(p.pk), p.name) for p in profiles.chooser(request)]

    def choices(self, changelist):
        current = str(profiles.current_id(self.request)) if self.lookup_choices else None
        for value, name in self.lookup_choices:
            yield {
                "selected": value == current,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": name,
            }

    def queryset(self, request, queryset):
        return queryset

    def __init__(self, request, params, model, model_admin):
        self.request = request
        super().__init__(request, params, model, model_admin)


class EmbeddingStatusFilter(admin.SimpleListFilter):
    title = "embedding"
    parameter_name = "embedded"

    def lookups(self, request, model_admin):
        return [("yes", "Embedded"), ("no", "Waiting for the worker")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.with_current_embedding(active.model_name())
        if self.value() == "no":
            return queryset.needing_embedding(active.model_name())
        return queryset


class BandFilter(admin.SimpleListFilter):
    """The dashboard's score bands (leads.scoring.bands), asked of the database like the dashboard does."""

    title = "score band"
    parameter_name = "band"

    def lookups(self, request, model_admin):
        return [*((band.key, band.label) for band in bands.BANDS), ("none", "not scored")]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(score__isnull=True)
        if self.value() in bands.BY_KEY:
            return queryset.filter(selectors.band_filter(self.value(), profiles.current_id(request)))
        return queryset


class LabelledFilter(admin.SimpleListFilter):
    title = "label"
    parameter_name = "label"

    def lookups(self, request, model_admin):
        return [("like", "Liked"), ("dislike", "Disliked"), ("none", "Unlabelled")]

    def queryset(self, request, queryset):
        if self.value() in ("like", "dislike"):
            return queryset.filter(verdict=self.value())
        if self.value() == "none":
            return queryset.filter(verdict="")
        return queryset


class LabelSourceFilter(admin.SimpleListFilter):
    """Where the current verdict came from: a rep's click, the API, an import, an admin action."""

    title = "labelled from"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return LabelSource.choices

    def queryset(self, request, queryset):
        if self.value() in LabelSource.values:  # labelled companies only: the partial index first
            return queryset.exclude(verdict="").filter(latest_label_source=self.value())
        return queryset


class LowConfidenceFilter(admin.SimpleListFilter):
    title = "evidence"
    parameter_name = "low_confidence"

    def lookups(self, request, model_admin):
        return [("yes", "Nothing labelled is close (unexplored)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(selectors.band_filter(bands.UNEXPLORED.key, profiles.current_id(request)))
        return queryset


class TextFilter(admin.SimpleListFilter):
    """A box to type an exact value (any case) instead of a list of every distinct value, which
    would scan every company on every page view."""

    template = "admin/text_filter.html"
    field = ""

    def lookups(self, request, model_admin):
        return [("", "")]  # Django shows a filter only when it has choices

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(**{f"{self.field}__iexact": value}) if value else queryset

    def choices(self, changelist):
        """One entry for the template: the value typed, and the other filters to keep."""
        keep = [(name, value) for name, value in changelist.params.items() if name != self.parameter_name]
        yield {
            "value": self.value() or "",
            "keep": keep,
            "clear": changelist.get_query_string(remove=[self.parameter_name]),
        }


class IndustryFilter(TextFilter):
    title = "industry"
    parameter_name = field = "industry"


class CountryFilter(TextFilter):
    """'Germany', 'germany' or 'DE': the companies stored as 'DE' (companies.countries)."""

    title = "country"
    parameter_name = field = "country"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.in_country(value) if value else queryset


def unscored_only(params) -> bool:
    """Whether the filters chosen (the changelist's query) list only companies without a score in
    the profile: not scored, or labelled (a verdict's pass takes its company's score away)."""
    return (
        params.get(BandFilter.parameter_name) == "none"
        or params.get(LabelledFilter.parameter_name) in (Verdict.LIKE, Verdict.DISLIKE)
        or params.get(LabelSourceFilter.parameter_name) in LabelSource.values
    )
