"""Accounts of the people who keep the knowledge base: contributors propose changes, curators
also review them (nkkb.core.proposals), administrators are Django superusers."""

from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db.models import Q

from .queries import IdsQuery

CURATORS_GROUP = "curators"
CONTRIBUTORS_GROUP = "contributors"
# Each role and its group (created by trials' migrations 0002 and 0008).
ROLES = {"curator": CURATORS_GROUP, "contributor": CONTRIBUTORS_GROUP}


def curator_create(*, username: str, password: str, email: str = ""):
    """A staff account in the curators group: it may edit the knowledge base and review
    proposals, nothing else."""
    return account_create(username=username, password=password, email=email, role="curator")


def account_create(*, username: str, password: str, email: str = "", role: str):
    """A staff account in the group of its role (ROLES): a contributor reads the knowledge base
    in admin and proposes changes; a curator also edits and reviews."""
    if role not in ROLES:
        raise ValidationError(f"Unknown role {role!r}: one of {', '.join(ROLES)}.")
    group = Group.objects.filter(name=ROLES[role]).first()
    if group is None:
        raise ValidationError(f"The {ROLES[role]!r} group is missing; run manage.py migrate.")
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValidationError(f"A user named {username!r} already exists.")
    user = user_model(username=username, email=email, is_staff=True)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    user.groups.add(group)
    return user


class LoginAttemptsBackend(AxesStandaloneBackend):
    """django-axes' check of failed logins per account and address (settings, AXES_*), for
    logins over HTTP. A check without a request (a script, a management command) has no
    address to count and is left to the next backend instead of failing."""

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


# (app label, codename) of each permission of the users whose ids are sent, their own and their
# groups'.
USER_PERMISSIONS = IdsQuery(
    lambda ids: (
        Permission.objects.filter(Q(user__id__in_ids=ids) | Q(group__user__id__in_ids=ids))
        .order_by()
        .values_list("content_type__app_label", "codename")
    )
)


class PermissionsBackend(ModelBackend):
    """Django's model permissions, a user's own and its groups' read by one statement compiled
    once per process: building ModelBackend's two queries cost more than running them, on each
    request that writes (BENCHMARKS.md, "Issue 17, eighteenth round"). Read once a request, as
    ModelBackend does: a permission granted or withdrawn holds from the next request on."""

    def get_all_permissions(self, user_obj, obj=None):
        if (
            not user_obj.is_active
            or user_obj.is_anonymous
            or user_obj.is_superuser
            or obj is not None
        ):
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            rows = USER_PERMISSIONS([user_obj.pk])
            user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in rows}
        return user_obj._perm_cache
