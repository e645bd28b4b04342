"""API tokens expire: a token older than API_TOKEN_LIFETIME_DAYS is refused with a 401 that says
how to get a new one, on the API and on the curators' proposals feed; a new one replaces it."""

import io
from datetime import timedelta

import feedparser
import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from nkkb.core.accounts import curator_create
from nkkb.core.api.authentication import ExpiringTokenAuthentication
from trials.models import Trial

pytestmark = pytest.mark.django_db

NCT = "NCT02138734"
TRIAL = f"/api/v1/trials/{NCT}/"


@pytest.fixture
def curator():
    return curator_create(username="tess", password="lantern-orbit-velvet-42")


def token_aged(user, age: timedelta) -> str:
    """A token of `user`, made `age` ago."""
    token = Token.objects.create(user=user)
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - age)
    return token.key


def patch_trial(client, key: str, **changes):
    version = Trial.objects.get(nct_id=NCT).version
    return client.patch(
        TRIAL,
        {**changes, "version": version},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )


def test_a_token_works_for_its_lifetime_then_is_refused_with_a_401_that_says_why(
    client, curator, settings
):
    settings.API_TOKEN_LIFETIME_DAYS = 30
    fresh = token_aged(curator, timedelta(days=29, hours=23))
    assert patch_trial(client, fresh, status_note="checked").status_code == 200

    Token.objects.filter(key=fresh).update(created=timezone.now() - timedelta(days=30, minutes=1))
    refused = patch_trial(client, fresh, status_note="checked again")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Token"
    detail = refused.json()["detail"]
    assert "expired" in detail and "30 days" in detail and "drf_create_token --reset" in detail
    assert Trial.objects.get(nct_id=NCT).status_note == "checked"

    # A read with the expired token is refused too, rather than answered as if anonymous.
    assert client.get(TRIAL, HTTP_AUTHORIZATION=f"Token {fresh}").status_code == 401


def test_the_lifetime_is_a_setting(client, curator, settings):
    key = token_aged(curator, timedelta(days=3))
    settings.API_TOKEN_LIFETIME_DAYS = 2
    assert patch_trial(client, key, status_note="late").status_code == 401
    settings.API_TOKEN_LIFETIME_DAYS = 7
    assert patch_trial(client, key, status_note="in time").status_code == 200


def test_the_proposals_feed_refuses_an_expired_token_with_a_401(client, curator, settings):
    settings.API_TOKEN_LIFETIME_DAYS = 30
    fresh = token_aged(curator, timedelta(days=1))
    expired = token_aged(
        curator_create(username="uma", password="lantern-orbit-velvet-43"), timedelta(days=31)
    )

    feed = client.get(f"/feeds/proposals/?token={fresh}")
    assert feed.status_code == 200 and feedparser.parse(feed.content).feed.title
    assert client.get("/feeds/proposals/", HTTP_AUTHORIZATION=f"Token {fresh}").status_code == 200

    for refused in (
        client.get(f"/feeds/proposals/?token={expired}"),
        client.get("/feeds/proposals/", HTTP_AUTHORIZATION=f"Token {expired}"),
    ):
        assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Token"
        assert "expired" in refused.content.decode()


def test_a_new_token_replaces_the_old_one_at_once(client, curator, settings):
    settings.API_TOKEN_LIFETIME_DAYS = 30
    old = token_aged(curator, timedelta(days=31))
    output = io.StringIO()
    call_command("drf_create_token", "--reset", "tess", stdout=output)
    new = Token.objects.get(user=curator).key

    assert new != old and new in output.getvalue()
    assert patch_trial(client, new, status_note="with the new token").status_code == 200
    refused = patch_trial(client, old, status_note="with the old token")
    assert refused.status_code == 401 and refused.json()["detail"] == "Invalid token."
    assert client.get(f"/feeds/proposals/?token={old}").status_code == 403


def test_a_token_and_its_user_are_read_as_the_orm_reads_them(curator):
    key = token_aged(curator, timedelta(days=1))
    user, token = ExpiringTokenAuthentication().authenticate_credentials(key)
    expected = Token.objects.select_related("user").get(key=key)
    for record, read in ((token, expected), (user, expected.user)):
        assert type(record) is type(read) and not record._state.adding
        fields = [field.attname for field in type(read)._meta.concrete_fields]
        assert [getattr(record, name) for name in fields] == [getattr(read, n) for n in fields]
    assert token.user is user
    assert user.has_perm("trials.change_trial")


def test_a_token_of_an_inactive_user_is_refused(client, curator):
    key = token_aged(curator, timedelta(days=1))
    curator.is_active = False
    curator.save()
    refused = patch_trial(client, key, status_note="checked")
    assert refused.status_code == 401
    assert refused.json()["detail"] == "User inactive or deleted."
