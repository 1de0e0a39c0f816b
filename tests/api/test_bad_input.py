"""Bad filters get a 400 naming the offending part — never a 500, never a trace, never SQL."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import get

NESTED_50 = {"where": {}}
_cursor = NESTED_50["where"]
for _ in range(50):
    _cursor["and"] = [{}]
    _cursor = _cursor["and"][0]
_cursor["title"] = "x"


@pytest.mark.parametrize(
    ("path", "arguments", "names"),
    [
        ("/api/Datasets", {"filter": '{"where": {"title": '}, ["filter", "not valid JSON"]),
        ("/api/Datasets", {"filter": "[1, 2]"}, ["filter", "JSON object"]),
        ("/api/Datasets/count", {"where": "{'title': 1}"}, ["where", "not valid JSON"]),
        ("/api/Datasets", {"filter": {"where": {"colour": "red"}}}, ["filter.where.colour", "unknown field 'colour'"]),
        ("/api/Datasets", {"filter": {"where": {"size": {"about": 3}}}}, ["filter.where.size.about", "unknown operator 'about'"]),
        ("/api/Datasets", {"filter": {"where": {"size": "big"}}}, ["filter.where.size", "expected a number"]),
        ("/api/Datasets", {"filter": {"where": {"isPublic": "yes"}}}, ["filter.where.isPublic", "true or false"]),
        ("/api/Datasets", {"filter": {"where": {"creationDate": {"gt": "last tuesday"}}}}, ["creationDate.gt", "ISO 8601"]),
        ("/api/Datasets", {"filter": {"where": {"size": {"between": [1]}}}}, ["size.between", "exactly two values"]),
        ("/api/Datasets", {"filter": {"where": {"size": {"between": [1, "z"]}}}}, ["size.between[1]", "expected a number"]),
        ("/api/Datasets", {"filter": NESTED_50}, ["filter.where", "nested deeper than"]),
        ("/api/Datasets", {"filter": {"limit": 10**9}}, ["filter.limit", "between 1 and 1000"]),
        ("/api/Datasets", {"filter": {"limit": -1}}, ["filter.limit"]),
        ("/api/Datasets", {"filter": {"skip": "many"}}, ["filter.skip", "whole number"]),
        ("/api/Datasets", {"filter": {"where": {"title": {"regexp": "^(a+)+$"}}}}, ["title.regexp", "nested repetition"]),
        ("/api/Datasets", {"filter": {"where": {"title": {"regexp": "(x|xx)*y"}}}}, ["title.regexp", "alternation"]),
        ("/api/Datasets", {"filter": {"where": {"title": {"regexp": "(a)\\1"}}}}, ["title.regexp", "\\\\1"]),
        ("/api/Datasets", {"filter": {"where": {"title": {"regexp": "/a/x"}}}}, ["title.regexp", "flag"]),
        ("/api/Datasets", {"filter": {"where": {"title'; DROP TABLE datasets; --": "x"}}}, ["unknown field", "DROP TABLE"]),
        ("/api/Datasets", {"filter": {"where": {"title": {"like); DROP TABLE datasets; --": "x"}}}}, ["unknown operator"]),
        ("/api/Datasets", {"filter": {"order": "title; DROP TABLE datasets"}}, ["filter.order"]),
        ("/api/Datasets", {"filter": {"fields": ["pid", "password"]}}, ["filter.fields", "unknown field 'password'"]),
        ("/api/Datasets", {"filter": {"include": ["owner"]}}, ["filter.include[0]", "unknown relation 'owner'"]),
        ("/api/Datasets", {"filter": {"include": [{"relation": "parameters", "scope": {"where": {"value": {"gt": []}}}}]}},
         ["filter.include[0].scope.where.value.gt"]),
        ("/api/Datasets", {"filter": {"include": [{"relation": "parameters", "scope": {"where": {"and": [
            {"name": "sample_temperature"}, {"value": {"lt": 3}}, {"unit": "parsecs of zorkmids"}]}}}]}},
         ["scope.where.and.unit", "unknown unit 'parsecs of zorkmids'"]),
        ("/api/Datasets", {"filter": {"where": {"techniques": {"name": "x"}}}}, ["techniques", "include and scope.where"]),
        ("/api/Datasets", {"filter": {"limit": 5, "colour": 1}}, ["filter.colour", "unknown filter key"]),
        ("/api/Datasets/some-pid", {"filter": {"where": {"title": "x"}}}, ["filter.where", "unknown filter key"]),
        ("/api/Datasets", {"filter": {"query": 12}}, ["query", "string"]),
        ("/api/Datasets", {"filter": {"order": "isPublic DESC"}}, ["filter.order", "cannot order"]),
        ("/api/Datasets", {"filter": "[" * 3000 + "]" * 3000}, ["filter", "not acceptable JSON"]),
        ("/api/Datasets", {"filter": '{"limit": ' + "9" * 5000 + "}"}, ["filter", "not acceptable JSON"]),
        ("/api/Datasets", {"filter": {"where": {"size": {"gt": 2**63}}}}, ["size.gt", "out of range"]),
        ("/api/Datasets", {"filter": {"limit": "\u00b2"}}, ["filter.limit", "whole number"]),
        ("/api/Datasets", {"filter": {"where": {"creationDate": {"gt": "0001-01-01T00:00:00+01:00"}}}}, ["creationDate.gt", "years"]),
        ("/api/Datasets", {"filter": '{"where": {"title": "a\\ud800"}}'}, ["filter.where.title", "surrogate"]),
        ("/api/Datasets", {"filter": {"where": {"title": {"regexp": "\\bzeta"}}}}, ["title.regexp", "read differently"]),
        ("/api/Datasets", {"filter": {"where": {"title": {"nlike": "abc\\"}}}}, ["title.nlike", "unescaped"]),
    ],
)
def test_bad_filters_are_refused_with_the_offending_part_named(reference_api, path, arguments, names):
    status, body = get(reference_api, path, **arguments)
    assert status == 400, body
    message = body["error"]["message"]
    for name in names:
        assert name in message, (name, message)
    assert "Traceback" not in message and "SELECT" not in message


def test_injection_in_values_is_only_ever_a_value(reference_api):
    hostile = "x' OR '1'='1"
    assert get(reference_api, "/api/Datasets", filter={"where": {"title": hostile}}) == (200, [])
    assert get(reference_api, "/api/Datasets", filter={"where": {"title": {"like": "%' OR 1=1 --"}}}) == (200, [])
    assert get(reference_api, "/api/Datasets", query="'; DROP TABLE datasets; --") == (200, [])
    assert get(reference_api, "/api/Datasets/x' OR '1'='1")[0] == 404
    assert reference_api.get("/api/Datasets/a%00b").status_code in (400, 404)
    assert reference_api.get("/api/Datasets/a%00b/files").status_code in (400, 404)
    assert get(reference_api, "/api/Datasets/count") == (200, {"count": 4})  # still all there


def test_a_safe_regexp_runs_on_both_backends(reference_api):
    _, found = get(reference_api, "/api/Datasets", filter={"where": {"title": {"regexp": "/dataset [12]$/i"}}})
    assert sorted(d["title"] for d in found) == ["PaNOSC Test Dataset 1", "PaNOSC Test Dataset 2"]
    _, case_sensitive = get(reference_api, "/api/Datasets", filter={"where": {"title": {"regexp": "dataset [12]$"}}})
    assert case_sensitive == []


def test_catastrophic_input_is_answered_without_work(reference_api):
    """A pathological pattern and a huge body are refused by the parser, before any database work."""
    status, _ = get(reference_api, "/api/Datasets", filter={"where": {"title": {"regexp": "(" * 30 + "a*" + ")*" * 30}}})
    assert status == 400
    status, body = get(reference_api, "/api/Datasets", filter=json.dumps({"where": {"title": "x" * 30_000}}))
    assert status == 400 and "filter" in body["error"]["message"]


def test_unknown_paths_and_methods_answer_in_the_api_shape(reference_api):
    response = reference_api.get("/api/Samples")
    assert response.status_code == 404 and response.json()["error"]["statusCode"] == 404
    response = reference_api.post("/api/Datasets", json={})
    assert response.status_code == 405
