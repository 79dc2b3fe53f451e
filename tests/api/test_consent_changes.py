"""The consent-changes feed's query parameters: what is given must be a value."""

import pytest


@pytest.mark.parametrize("name", ["after", "limit"])
def test_an_empty_query_parameter_is_refused_naming_it(acme_api, name):
    response = acme_api.get(f"/api/v1/consent-changes?{name}=")

    assert response.status_code == 400
    assert name in response.json()


@pytest.mark.parametrize(("name", "value"), [("after", "-1"), ("after", "x"), ("limit", "0")])
def test_a_value_out_of_range_is_refused_naming_it(acme_api, name, value):
    response = acme_api.get("/api/v1/consent-changes", {name: value})

    assert response.status_code == 400
    assert name in response.json()


def test_a_feed_without_parameters_starts_at_the_beginning(acme_api):
    response = acme_api.get("/api/v1/consent-changes")

    assert response.status_code == 200
    assert response.json()["results"] == []
