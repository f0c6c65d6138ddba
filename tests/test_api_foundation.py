"""The API's foundation: public health, deny by default, JSON errors, security headers."""
from __future__ import annotations


def test_health_is_public_and_reports_the_database(client) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json["database"]["ok"] is True


def test_lines_need_a_token(client, plant) -> None:
    response = client.get("/api/v1/lines")
    assert response.status_code == 401
    assert response.json["error"].startswith("log in")


def test_lines_list_the_fifteen_unit_types_with_quantity_per_satellite(client, auth_header) -> None:
    response = client.get("/api/v1/lines", headers=auth_header("viewer"))
    lines = response.json["lines"]
    assert [ln["number"] for ln in lines] == list(range(1, 16))
    assert lines[0]["unit_type"] == {"part_number": "RWA-100", "name": "Reaction wheel assembly 0.1 N·m·s",
                                     "qty_per_satellite": 4}


def test_a_role_without_the_permission_is_forbidden(client, plant, sessions, auth_header) -> None:
    from sqlalchemy import select

    from mes.models import Role

    with sessions.begin() as session:
        session.scalars(select(Role).filter_by(name="viewer")).one().permissions = []
    response = client.get("/api/v1/lines", headers=auth_header("viewer"))
    assert response.status_code == 403 and "(read)" in response.json["error"]


def test_unknown_route_is_a_json_404_with_security_headers(client) -> None:
    response = client.get("/api/v1/nowhere")
    assert response.status_code == 404 and "error" in response.json
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
