from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from leads.api import views as api
from leads.companies import bulk, change_views, views
from leads.core import health
from leads.imports import views as import_views
from leads.labelnext import views as labelnext_views
from leads.map import views as map_views
from leads.outcomes import views as outcome_views
from leads.owners import views as owner_views
from leads.review import views as review_views
from leads.savedviews import views as saved_views
from leads.webhooks import views as webhook_views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("companies/<int:pk>/", views.company_detail, name="company-detail"),
    path("companies/<int:pk>/label", views.label, name="company-label"),
    path("companies/bulk", bulk.bulk, name="companies-bulk"),
    path("companies/<int:pk>/owner", owner_views.assign, name="company-owner"),
    path("companies/<int:pk>/notes", owner_views.add_note, name="company-notes"),
    path("labels/undo", views.undo, name="label-undo"),
    path("label-next/", labelnext_views.label_next, name="label-next"),
    path("scores/changes", change_views.score_changes, name="score-changes"),
    path("changes/", change_views.score_changes_page, name="score-changes-page"),
    path("export.csv", views.export_scores, name="export-scores"),
    path("views/", saved_views.save, name="view-save"),
    path("views/<int:pk>/", saved_views.open_view, name="view-open"),
    path("views/<int:pk>/delete", saved_views.delete, name="view-delete"),
    path("imports/", import_views.upload, name="import-upload"),
    path("imports/<int:pk>/", import_views.detail, name="import-detail"),
    path("imports/<int:pk>/progress", import_views.progress, name="import-progress"),
    path("imports/<int:pk>/rejected.csv", import_views.rejected_rows, name="import-rejected"),
    path("outcomes/", outcome_views.outcomes_page, name="outcomes"),
    path("outcomes/<int:pk>/", outcome_views.outcome_import, name="outcome-import"),
    path("outcomes/<int:pk>/progress", outcome_views.outcome_progress, name="outcome-progress"),
    path("outcomes/<int:pk>/rejected.csv", outcome_views.outcome_rejected, name="outcome-rejected"),
    path("outcomes/setting", outcome_views.outcomes_setting, name="outcomes-setting"),
    path("outcomes/report/", outcome_views.report_page, name="outcomes-report"),
    path("account/token", views.api_token, name="api-token"),
    path("review/", review_views.review_page, name="review"),
    path("review/companies/<int:pk>/label", review_views.relabel, name="review-label"),
    path("review/companies/<int:pk>/keep", review_views.keep, name="review-keep"),
    path("webhooks/", webhook_views.endpoints, name="webhooks"),
    path("webhooks/<int:pk>/", webhook_views.endpoint, name="webhook-endpoint"),
    path("webhooks/<int:pk>/test", webhook_views.send_test, name="webhook-test"),
    path("webhooks/<int:pk>/secret", webhook_views.new_secret, name="webhook-secret"),
    path("webhooks/deliveries/<int:pk>/", webhook_views.delivery, name="webhook-delivery"),
    path("webhooks/deliveries/<int:pk>/replay", webhook_views.replay, name="webhook-replay"),
    path("webhooks/<int:pk>/delete", webhook_views.delete, name="webhook-delete"),
    path("map/", map_views.map_page, name="map"),
    path("map/points.json", map_views.points, name="map-points"),
    path("map/label", map_views.label, name="map-label"),
    path("map/undo", map_views.undo, name="map-undo"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/companies/", api.companies, name="api-companies"),
    path("api/companies/<int:pk>", api.company, name="api-company"),
    path("api/companies/by-meaning", api.by_meaning, name="api-companies-by-meaning"),
    path("api/companies/<int:pk>/label", api.label, name="api-company-label"),
    path("api/companies/<int:pk>/owner", api.owner, name="api-company-owner"),
    path("api/companies/<int:pk>/notes", api.notes, name="api-company-notes"),
    path("api/companies/<int:pk>/similar", api.similar, name="api-company-similar"),
    path("api/profiles/", api.profile_list, name="api-profiles"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    # Browsers ask for it on every page that names no icon: the admin's pages, error pages.
    path("favicon.ico", RedirectView.as_view(url=static("leads/favicon.svg")), name="favicon"),
]
