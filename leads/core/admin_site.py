"""The admin site, opened to the roles that use it (leads.accounts.roles): sales managers (companies,
imports, bulk actions) and admins (users), not only to accounts marked staff; its log-in page is
the app's own, for all of them."""

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.shortcuts import redirect, render

from leads.accounts import roles


class LeadsAdminSite(AdminSite):
    site_header = "leads administration"
    # The company list is wide (fit, verdict, who labelled, owner, embedding, import): at 1366 px the
    # sidebar of every model cut its last columns. Its four models are one click away on the home page.
    enable_nav_sidebar = False

    def has_permission(self, request) -> bool:
        user = request.user
        return user.is_active and (user.is_staff or user.has_perm(roles.OPEN_ADMIN))

    def login(self, request, extra_context=None):
        """The app's log-in page (its form, its template, its throttling) for every role, then on
        to the admin: Django's own admin form lets in accounts marked staff only, not the managers
        and admins this site is for."""
        if request.method == "GET" and self.has_permission(request):
            return redirect("admin:index")
        if request.user.is_authenticated:  # logged in, but the role has no admin: say whom to ask
            return render(request, "403.html", {"reason": roles.missing(request.user, roles.OPEN_ADMIN)}, status=403)
        # Imported here, as Django's AdminSite.login does: this module is imported while the apps
        # load, before the User model that auth.views needs.
        from django.contrib.auth.views import LoginView

        return LoginView.as_view(next_page="admin:index")(request)


class LeadsAdminConfig(AdminConfig):
    default_site = "leads.core.admin_site.LeadsAdminSite"
