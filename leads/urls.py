from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from leads import api, health, import_views, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("companies/<int:pk>/", views.company_detail, name="company-detail"),
    path("companies/<int:pk>/label", views.label, name="company-label"),
    path("export.csv", views.export_scores, name="export-scores"),
    path("imports/", import_views.upload, name="import-upload"),
    path("imports/<int:pk>/", import_views.detail, name="import-detail"),
    path("imports/<int:pk>/progress", import_views.progress, name="import-progress"),
    path("imports/<int:pk>/rejected.csv", import_views.rejected_rows, name="import-rejected"),
    path("account/token", views.api_token, name="api-token"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/companies/", api.companies, name="api-companies"),
    path("api/companies/<int:pk>/label", api.label, name="api-company-label"),
    path("api/companies/<int:pk>/similar", api.similar, name="api-company-similar"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
]
