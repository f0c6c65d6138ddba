"""The API's foundation: public health, deny by default, JSON errors, security headers."""
from __future__ import annotations


def test_health_is_public_and_reports_the_database(client) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json["database"]["ok"] is True


def test_health_reports_each_machine_endpoint_as_its_adapter_last_saw_it(client, sessions, plant) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from mes.models import EndpointHealth, Machine, TelemetryGap

    now = datetime.now(UTC)
    with sessions.begin() as session:
        balancer = session.scalars(select(Machine).filter_by(code="RWA-BAL1")).one()
        shaker = session.scalars(select(Machine).filter_by(code="RWA-VIB1")).one()
        session.add_all([
            EndpointHealth(endpoint=balancer.endpoint, connected=True, last_value_at=now, spool_readings=900,
                           spool_fill=0.85, clock_offset_s=0.2, updated_at=now),
            EndpointHealth(endpoint=shaker.endpoint, connected=True, spool_readings=0, spool_fill=0.0,
                           updated_at=now - timedelta(minutes=5)),  # its adapter stopped reporting
            TelemetryGap(machine_id=balancer.id, started_at=now - timedelta(minutes=3), ended_at=now,
                         reason="disconnected", declared_at=now)])
        endpoints = (balancer.endpoint, shaker.endpoint)
    body = client.get("/api/v1/health").json
    assert body["status"] == "ok" and body["link"] == "degraded"
    by_endpoint = {a["endpoint"]: a for a in body["adapters"]}
    bal, vib = by_endpoint[endpoints[0]], by_endpoint[endpoints[1]]
    assert bal["machines"] == ["RWA-BAL1"] and bal["connected"] and bal["gaps_today"] == 1
    assert bal["problems"] == ["the spool is 85 % full"] and bal["spool_readings"] == 900
    assert not vib["connected"] and vib["problems"][0].startswith("no report from its adapter since")
    assert len(body["adapters"]) == len({a["endpoint"] for a in body["adapters"]}) > 50


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
