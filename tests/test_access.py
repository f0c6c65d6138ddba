"""Who may do what: every API route against every role, deny by default, display tokens read only."""
from __future__ import annotations

import re

import pytest

from mes.auth import create_token

ROLES = ("operator", "supervisor", "quality", "viewer", "admin")
EVERYONE = frozenset(ROLES)
PUBLIC = "public"

# The literal expected table: (method, rule) -> roles allowed. A route missing here fails the test.
EXPECTED: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "/api/v1/health"): PUBLIC,
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("POST", "/api/v1/session"): PUBLIC,
    ("DELETE", "/api/v1/session"): EVERYONE,
    ("GET", "/api/v1/lines"): EVERYONE,
    ("GET", "/api/v1/work-orders"): EVERYONE,
    ("POST", "/api/v1/work-orders"): frozenset({"supervisor"}),
    ("GET", "/api/v1/units/<serial>"): EVERYONE,
    ("POST", "/api/v1/units/<serial>/steps/<step>/start"): frozenset({"operator", "supervisor"}),
    ("POST", "/api/v1/units/<serial>/steps/<step>/pause"): frozenset({"operator", "supervisor"}),
    ("POST", "/api/v1/units/<serial>/steps/<step>/resume"): frozenset({"operator", "supervisor"}),
    ("POST", "/api/v1/units/<serial>/steps/<step>/abort"): frozenset({"supervisor"}),
    ("POST", "/api/v1/units/<serial>/steps/<step>/complete"): frozenset({"operator", "supervisor"}),
    ("POST", "/api/v1/runs"): frozenset({"operator", "supervisor"}),
    ("POST", "/api/v1/runs/<int:run_id>/complete"): frozenset({"operator", "supervisor"}),
    ("POST", "/api/v1/units/<serial>/steps/<step>/measurements/<name>/correct"): frozenset({"operator",
                                                                                            "supervisor"}),
    ("POST", "/api/v1/ncrs"): frozenset({"operator", "supervisor", "quality"}),
    ("GET", "/api/v1/ncrs"): EVERYONE,
    ("GET", "/api/v1/ncrs/<number>"): EVERYONE,
    ("POST", "/api/v1/ncrs/<number>/photos"): frozenset({"operator", "supervisor", "quality"}),
    ("POST", "/api/v1/ncrs/<number>/disposition"): frozenset({"quality"}),
    ("POST", "/api/v1/ncrs/<number>/mrb-approval"): frozenset({"quality"}),
    ("POST", "/api/v1/deviations"): frozenset({"quality"}),
    ("GET", "/api/v1/deviations"): EVERYONE,
    ("POST", "/api/v1/units/<serial>/hold"): frozenset({"operator", "supervisor", "quality"}),
    ("POST", "/api/v1/units/<serial>/release"): frozenset({"supervisor", "quality"}),
    ("POST", "/api/v1/units/<serial>/steps/<step>/buyoff"): frozenset({"supervisor", "quality"}),
    ("POST", "/api/v1/units/<serial>/accept"): frozenset({"quality"}),
    ("POST", "/api/v1/users/<name>/qualifications"): frozenset({"admin"}),
    ("POST", "/api/v1/instruments"): frozenset({"admin"}),
    ("POST", "/api/v1/instruments/<code>/calibrations"): frozenset({"admin"}),
    ("GET", "/api/v1/instruments/<code>/measurements"): EVERYONE,
    ("POST", "/api/v1/receipts"): frozenset({"supervisor", "quality"}),
    ("GET", "/api/v1/materials"): EVERYONE,
    ("GET", "/api/v1/materials/<part_number>/<lot>"): EVERYONE,
    ("POST", "/api/v1/materials/<part_number>/<lot>/release"): frozenset({"quality"}),
    ("POST", "/api/v1/materials/<part_number>/<lot>/reject"): frozenset({"quality"}),
    ("POST", "/api/v1/units/<serial>/steps/<step>/consumptions"): frozenset({"operator", "supervisor"}),
    ("POST", "/api/v1/units/<serial>/components/<component>/removal"): frozenset({"supervisor", "quality"}),
    ("GET", "/api/v1/units/<serial>/genealogy"): EVERYONE,
    ("GET", "/api/v1/trace/<serial_or_lot>"): EVERYONE,
    ("POST", "/api/v1/containments"): frozenset({"quality"}),
    ("GET", "/api/v1/containments/<number>"): EVERYONE,
    ("POST", "/api/v1/satellites"): frozenset({"supervisor", "quality"}),
    ("GET", "/api/v1/satellites"): EVERYONE,
    ("GET", "/api/v1/satellites/<build>"): EVERYONE,
    ("POST", "/api/v1/satellites/<build>/allocations"): frozenset({"supervisor", "quality"}),
    ("POST", "/api/v1/satellites/<build>/deallocations"): frozenset({"supervisor", "quality"}),
    ("GET", "/api/v1/units/<serial>/as-built"): EVERYONE,
    ("GET", "/api/v1/satellites/<build>/as-built"): EVERYONE,
    ("GET", "/api/v1/machines/<machine>/telemetry"): EVERYONE,
    ("GET", "/api/v1/units/<serial>/process-data"): EVERYONE,
}


def routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, rule) of every API route, read from the app's URL map at run time."""
    return sorted((method, rule.rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
                  for method in rule.methods - {"HEAD", "OPTIONS"})


def concrete(rule: str) -> str:
    return re.sub(r"<int:\w+>", "1", re.sub(r"<(\w+)>", "X", rule))


def test_every_route_is_in_the_expected_table(app) -> None:
    assert set(routes(app)) == set(EXPECTED), "add the new route to EXPECTED with the roles it allows"


def test_role_matrix_has_no_unexpected_allow_or_deny(app, client, auth_header) -> None:
    headers = {role: auth_header(role) for role in ROLES}
    surprises = []
    for method, rule in routes(app):
        allowed = EXPECTED[(method, rule)]
        anonymous = client.open(concrete(rule), method=method, json={})
        if (anonymous.status_code == 401) == (allowed == PUBLIC):
            surprises.append(f"anonymous {method} {rule}: {anonymous.status_code}")
        if allowed == PUBLIC:
            continue
        for role in ROLES:
            status = client.open(concrete(rule), method=method, json={}, headers=headers[role]).status_code
            if (status not in (401, 403)) != (role in allowed):
                surprises.append(f"{role} {method} {rule}: {status}")
    assert surprises == []


def test_display_token_reads_but_never_writes(client, sessions, make_user) -> None:
    name = make_user("supervisor")
    with sessions.begin() as session:
        token = create_token(session, name, ["display"], "andon screen")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/lines", headers=headers).status_code == 200
    refused = client.post("/api/v1/work-orders", headers=headers,
                          json={"unit_type": "RWA", "quantity": 1, "due": "2027-01-01"})
    assert refused.status_code == 403 and "display" in refused.json["error"]


@pytest.mark.parametrize("header", ["Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-token", "bearer  "])
def test_bad_credentials_are_a_401(client, plant, header) -> None:
    assert client.get("/api/v1/lines", headers={"Authorization": header}).status_code == 401


def test_line_scoped_token_acts_only_on_its_line(client, sessions, make_user) -> None:
    name = make_user("supervisor")
    with sessions.begin() as session:
        token = create_token(session, name, ["line:1"], "line 1 terminal")
    headers = {"Authorization": f"Bearer {token}"}
    own = client.post("/api/v1/work-orders", headers=headers, json={"unit_type": "RWA", "quantity": 1,
                                                                    "due": "2027-01-01"})
    other = client.post("/api/v1/work-orders", headers=headers, json={"unit_type": "STR", "quantity": 1,
                                                                      "due": "2027-01-01"})
    assert own.status_code == 201 and other.status_code == 403
    serial = own.json["serials"][0]
    assert client.post(f"/api/v1/units/{serial}/steps/RWA-ASM/start", headers=headers,
                       json={"station": "RWA-CR1"}).status_code == 200


def test_machine_scoped_token_runs_only_its_machine(client, sessions, make_user) -> None:
    name = make_user("operator")
    with sessions.begin() as session:
        token = create_token(session, name, ["machine:RWA-TVAC1"], "TVAC controller")
    headers = {"Authorization": f"Bearer {token}"}
    other = client.post("/api/v1/runs", headers=headers,
                        json={"step": "RWA-TC", "machine": "RWA-TC1", "units": [{"serial": "X", "position": 1}]})
    assert other.status_code == 403 and "machine:RWA-TVAC1" in other.json["error"]
