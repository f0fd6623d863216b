"""The admin site, opened to the roles that use it (leads.roles): sales managers (companies,
imports, bulk actions) and admins (users), not only to accounts marked staff."""

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig

from leads import roles


class LeadsAdminSite(AdminSite):
    site_header = "leads administration"

    def has_permission(self, request) -> bool:
        user = request.user
        return user.is_active and (user.is_staff or user.has_perm(roles.OPEN_ADMIN))


class LeadsAdminConfig(AdminConfig):
    default_site = "leads.admin_site.LeadsAdminSite"
