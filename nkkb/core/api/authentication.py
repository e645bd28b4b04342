"""API tokens that expire: a key that leaked, or belongs to a curator who left, stops working
by itself after API_TOKEN_LIFETIME_DAYS (README, "Tokens")."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions

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
        user, token = super().authenticate_credentials(key)
        days = settings.API_TOKEN_LIFETIME_DAYS
        expired = token.created + timedelta(days=days)
        if timezone.now() >= expired:
            raise TokenExpired(EXPIRED_MESSAGE.format(expired=expired, days=days))
        return user, token
