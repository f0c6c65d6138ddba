"""Two people acting on one unit at once, and retried requests: exactly one effect, never a lost answer."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from mes.models.production import StepExecution
from tests.factories import fit, release

ASM = {"bearing_preload": "30.0", "retaining_nut_torque": "2.50", "visual_cleanliness": "pass"}


@pytest.fixture
def serial(sessions, make_user) -> str:  # type: ignore[no-untyped-def]
    make_user("supervisor", name="sup.a")
    return release(sessions, "sup.a", "RWA", 1)[0]


def race(app, requests: list[tuple[str, dict, dict]]) -> list[int]:  # type: ignore[type-arg]
    """Send the POSTs from separate threads released at the same instant; return their statuses."""
    barrier = threading.Barrier(len(requests))

    def send(request: tuple[str, dict, dict]) -> int:  # type: ignore[type-arg]
        url, body, headers = request
        client = app.test_client()
        barrier.wait()
        return client.post(url, json=body, headers=headers).status_code

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def test_two_completions_of_one_step_at_once_one_succeeds_one_conflicts(app, client, auth_header, serial,
                                                                         sessions) -> None:
    first, second = auth_header("operator"), auth_header("operator")
    client.post(f"/api/v1/units/{serial}/steps/RWA-ASM/start", headers=first, json={"station": "RWA-CR1"})
    fit(sessions, serial)
    url = f"/api/v1/units/{serial}/steps/RWA-ASM/complete"
    statuses = race(app, [(url, {"measurements": ASM}, first), (url, {"measurements": ASM}, second)])
    assert sorted(statuses) == [200, 409]


def test_many_starts_of_one_unit_at_once_start_it_once(app, auth_header, serial, sessions) -> None:
    url = f"/api/v1/units/{serial}/steps/RWA-ASM/start"
    statuses = race(app, [(url, {"station": "RWA-CR1"}, auth_header("operator")) for _ in range(6)])
    assert sorted(statuses) == [200] + [409] * 5
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(StepExecution)) == 1


def test_a_replayed_request_returns_the_first_answer_and_records_once(client, auth_header, serial, sessions) -> None:
    headers = {**auth_header("operator"), "Idempotency-Key": "tablet-7-0001"}
    url = f"/api/v1/units/{serial}/steps/RWA-ASM/start"
    first = client.post(url, headers=headers, json={"station": "RWA-CR1"})
    replay = client.post(url, headers=headers, json={"station": "RWA-CR1"})
    assert first.status_code == replay.status_code == 200
    assert replay.json == first.json
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(StepExecution)) == 1


def test_a_replayed_completion_after_a_lost_answer_records_one_execution(client, auth_header, serial,
                                                                         sessions) -> None:
    headers = auth_header("operator")
    client.post(f"/api/v1/units/{serial}/steps/RWA-ASM/start", headers=headers, json={"station": "RWA-CR1"})
    fit(sessions, serial)
    keyed = {**headers, "Idempotency-Key": "complete-1"}
    url = f"/api/v1/units/{serial}/steps/RWA-ASM/complete"
    first = client.post(url, headers=keyed, json={"measurements": ASM})
    again = client.post(url, headers=keyed, json={"measurements": ASM})
    assert again.status_code == 200 and again.json == first.json and first.json["result"] == "passed"


def test_the_same_key_with_another_body_is_a_422(client, auth_header, serial) -> None:
    headers = {**auth_header("operator"), "Idempotency-Key": "k-1"}
    url = f"/api/v1/units/{serial}/steps/RWA-ASM/start"
    client.post(url, headers=headers, json={"station": "RWA-CR1"})
    other = client.post(url, headers=headers, json={"station": "RWA-CR1", "machine": None})
    assert other.status_code == 422 and other.json["field"] == "Idempotency-Key"


def test_keys_belong_to_their_user(client, auth_header, serial) -> None:
    url = f"/api/v1/units/{serial}/steps/RWA-ASM/start"
    client.post(url, headers={**auth_header("operator"), "Idempotency-Key": "same"}, json={"station": "RWA-CR1"})
    theirs = client.post(url, headers={**auth_header("operator"), "Idempotency-Key": "same"},
                         json={"station": "RWA-CR1"})
    assert theirs.status_code == 409  # not the other user's stored answer: the unit is in a step


def test_a_refused_request_is_not_stored_so_a_retry_is_judged_afresh(client, auth_header, serial) -> None:
    headers = {**auth_header("operator"), "Idempotency-Key": "retry-after-fix"}
    url = f"/api/v1/units/{serial}/steps/RWA-ASM/start"
    assert client.post(url, headers=headers, json={"station": "RWA-BAL"}).status_code == 422
    assert client.post(url, headers=headers, json={"station": "RWA-BAL"}).status_code == 422


def test_twin_keyed_requests_at_once_have_one_effect_and_the_same_answer(app, auth_header, serial,
                                                                         sessions) -> None:
    headers = {**auth_header("operator"), "Idempotency-Key": "double-tap"}
    url = f"/api/v1/units/{serial}/steps/RWA-ASM/start"
    statuses = race(app, [(url, {"station": "RWA-CR1"}, headers)] * 4)
    assert statuses == [200] * 4
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(StepExecution)) == 1
