"""Faults: what users see while the database is unreachable, and that the site recovers."""

import pytest
from django.db import OperationalError, connection

pytestmark = pytest.mark.django_db


def refuse_connections(execute, sql, params, many, context):
    # The error a driver raises when the server is gone (injected at the connection's edge).
    raise OperationalError(
        "could not connect to server: Connection refused\n\tIs the server running?"
    )


def test_an_unreachable_database_answers_503_and_the_site_recovers(client):
    with connection.execute_wrapper(refuse_connections):
        page = client.get("/trials/")

    assert page.status_code == 503
    assert "database is unavailable" in page.content.decode()
    assert page["Retry-After"] == "30"

    assert client.get("/trials/").status_code == 200


def test_a_bad_query_is_not_mistaken_for_an_outage(client):
    def broken_query(execute, sql, params, many, context):
        raise OperationalError("no such column: trials_trial.bogus")

    client.raise_request_exception = False
    with connection.execute_wrapper(broken_query):
        response = client.get("/trials/")
    assert response.status_code == 500
