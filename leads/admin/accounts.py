"""The admin's users and groups: admins (leads.accounts.roles) give the roles, only a superuser gives more.
Imported by leads/admin/companies.py, which Django's admin discovers."""

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

admin.site.unregister(get_user_model())
admin.site.unregister(Group)


@admin.register(get_user_model())
class UserAdmin(auth_admin.UserAdmin):
    """Admins (leads.accounts.roles) make accounts and give them their roles. What reaches past the roles
    stays with superusers: the superuser and staff flags, permissions given one by one, a
    superuser's account (its password included), and an admin's own role, which they could
    otherwise raise to a manager's."""

    def get_readonly_fields(self, request, obj=None):
        readonly = [*super().get_readonly_fields(request, obj)]
        if not request.user.is_superuser:
            readonly += ["is_superuser", "is_staff", "user_permissions"]
            if obj is not None and obj.pk == request.user.pk:
                readonly.append("groups")
        return readonly

    # Also what the password form and the bulk delete ask, object by object.
    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and _may_manage(request.user, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and _may_manage(request.user, obj)


def _may_manage(user, account) -> bool:
    """Only a superuser changes or deletes a superuser's account."""
    return account is None or user.is_superuser or not account.is_superuser


@admin.register(Group)
class GroupAdmin(auth_admin.GroupAdmin):
    """A role's permissions are leads.accounts.roles.ROLES (sync_groups sets them again after every
    migrate): only a superuser changes a group's permissions here, else an admin could give their
    own role every permission."""

    def get_readonly_fields(self, request, obj=None):
        readonly = [*super().get_readonly_fields(request, obj)]
        return readonly if request.user.is_superuser else [*readonly, "permissions"]
