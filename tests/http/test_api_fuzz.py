"""Every API fuzzed from its own OpenAPI document (tests/support/fuzz.py): each operation
by a customer, an operator, an expired token, a forged one and no token; schemathesis'
coverage cases and hypothesis' draws, valid and invalid; then scenarios along the
document's links. No server error, every answer as documented, every error in the
``{"error", "message"}`` shape.

    FUZZ_EXAMPLES=1000 scripts/test tests/http/test_api_fuzz.py     # the long run
"""

from __future__ import annotations

import pytest

from tests.support.fuzz import (
    APIS,
    CALLERS,
    Fuzzer,
    draws_for,
    fuzzed_api,
    links_of,
    operation_at,
)


def report(fuzzer: Fuzzer) -> str:
    return "\n\n".join(f"{key}\n{text}" for key, text in fuzzer.found.items())


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("api", APIS)
def test_every_operation_answers_as_documented(api: str, caller: str) -> None:
    with fuzzed_api(api) as (schema, settle):
        fuzzer = Fuzzer(api, schema, caller, settle)
        for operation in fuzzer.operations():
            fuzzer.cover(operation)
            fuzzer.fuzz(operation, draws_for(caller))
    assert not fuzzer.found, report(fuzzer)


@pytest.mark.parametrize("caller", ["customer", "operator"])
@pytest.mark.parametrize("api", APIS)
def test_scenarios_along_the_links_answer_as_documented(api: str, caller: str) -> None:
    with fuzzed_api(api) as (schema, settle):
        fuzzer = Fuzzer(api, schema, caller, settle)
        fuzzer.follow_links(draws_for(caller))
    assert not fuzzer.found, report(fuzzer)


@pytest.mark.parametrize("api", APIS)
def test_links_name_operations_and_parameters_of_their_document(api: str) -> None:
    with fuzzed_api(api) as (schema, _):
        for operation in Fuzzer(api, schema, "customer", lambda: None).operations():
            for status, named in links_of(schema, operation).items():
                assert status in operation.definition.raw["responses"]
                for link in named.values():
                    target = operation_at(schema, link["operationRef"])
                    path_parameters = {p.name for p in target.path_parameters}
                    assert set(link["parameters"]) <= path_parameters, (operation.label, link)


def test_the_booking_api_links_a_booking_to_what_its_customer_does_next() -> None:
    with fuzzed_api("booking") as (schema, _):
        made = schema["/bookings"]["POST"]
        followed = {operation_at(schema, link["operationRef"]).label
                    for link in links_of(schema, made)["202"].values()}
    assert followed == {"GET /bookings/{booking_id}", "POST /bookings/{booking_id}/cancel",
                        "POST /bookings/{booking_id}/payment-attempts"}
