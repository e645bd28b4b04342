import pytest

pytestmark = pytest.mark.django_db


def test_the_home_page_shows_what_the_knowledge_base_holds(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<strong>58</strong> trials" in page
    assert "NK cell product" in page


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get("/admin/trials/trial/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
