"""API tokens that expire: a key that leaked, or belongs to a curator who left, stops working
by itself after API_TOKEN_LIFETIME_DAYS (README, "Tokens")."""

import functools
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from ..queries import KeyQuery

EXPIRED_MESSAGE = (
    "This token expired on {expired:%Y-%m-%d %H:%M} UTC: tokens last {days:g} days. Ask an "
    "administrator for a new one (`manage.py drf_create_token --reset <your username>`)."
)


class TokenExpired(exceptions.AuthenticationFailed):
    default_code = "token_expired"


class ExpiringTokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (`Authorization: Token <key>`), refusing a token made more
    than API_TOKEN_LIFETIME_DAYS ago with a 401 that says how to get a new one. A token's age
    is its `created` time, which DRF sets when the token is made (and made again on --reset).
    """

    def authenticate_credentials(self, key):
        """As DRF's, the token and its user read by a statement compiled once per process:
        building the ORM's query cost more than running it, on every request of a script or a
        curator's client (BENCHMARKS.md, "Issue 17, eighteenth round")."""
        rows = TOKEN_BY_KEY(key)
        if not rows:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token, user = _token_and_user(rows[0])
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        days = settings.API_TOKEN_LIFETIME_DAYS
        expired = token.created + timedelta(days=days)
        if timezone.now() >= expired:
            raise TokenExpired(EXPIRED_MESSAGE.format(expired=expired, days=days))
        return user, token


@functools.cache
def _columns() -> tuple[list[str], list[str]]:
    """The columns of a token and of a user, by attribute name."""
    return tuple(
        [field.attname for field in model._meta.concrete_fields]
        for model in (Token, get_user_model())
    )


TOKEN_BY_KEY = KeyQuery(
    lambda key: Token.objects.filter(key=key).values(
        *_columns()[0], *(f"user__{name}" for name in _columns()[1])
    )
)


def _token_and_user(row: dict):
    """The token and its user as the ORM would have read them, from a row of TOKEN_BY_KEY."""
    token_columns, user_columns = _columns()
    user = get_user_model().from_db(
        DEFAULT_DB_ALIAS, user_columns, [row[f"user__{name}"] for name in user_columns]
    )
    token = Token.from_db(DEFAULT_DB_ALIAS, token_columns, [row[name] for name in token_columns])
    token.user = user
    return token, user
