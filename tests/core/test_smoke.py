from tests.support.web import login


def test_login_page_is_swedish(client):
    response = client.get("/logga-in")
    assert response.status_code == 200
    assert "Logga in i kontroll" in response.get_data(as_text=True)


def test_start_page_after_login(client, world):
    response = login(client, "sektionschef")
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "Sektionschef" in page
