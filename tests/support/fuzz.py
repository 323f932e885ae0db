"""Property-based fuzzing of the HTTP APIs with schemathesis (tests/http/test_api_fuzz.py).

Every registered service's API (shared/services.py), and the projector's, is loaded from
its own OpenAPI document as the app serves it over the embedded runtime, and each of its
operations is called with cases schemathesis generates from that document: valid ones
and invalid ones, by each kind of caller. Each answer is checked: no server error, the
status, content type, headers and body the document promises, and every error in the
``{"error", "message"}`` shape. Where the document links operations (a booking made, then
read, paid again, cancelled), a state machine follows the links from real answers.

Figures (cases, operations, failures) add up over a run in ``FIGURES``; the conftest prints
them at the end. ``FUZZ_EXAMPLES`` sets how many cases hypothesis draws per operation and
caller, valid and invalid together, and how many scenarios per API (a tenth for callers
who are no one); by default as many as the profile says (``HYPOTHESIS_PROFILE``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    multiple,
    rule,
    run_state_machine_as_test,
)
from litestar import Litestar
from schemathesis import Case, CheckContext, GenerationMode, Response
from schemathesis.checks import load_all_checks, not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from shared import views
from shared.config import WriteLimits
from shared.http.app import SCHEMA_PATH
from shared.http.auth import issue_token
from shared.services import NAMES, PROJECTOR
from tests.support.api import http_settings, projector_api, service_apps
from tests.support.embedded import embedded_system
from tests.support.tokens import bearer

PROFILE_EXAMPLES = {"dev": 5, "ci": 10, "long": 1_000}
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES")
               or PROFILE_EXAMPLES[os.environ.get("HYPOTHESIS_PROFILE", "ci")])

# Every API the system serves: the services' and the projector's.
APIS: tuple[str, ...] = (*NAMES, PROJECTOR)

# Who calls: a customer, an operator, and three who are no one (their requests never
# reach a handler of a secured route).
CALLERS: dict[str, dict[str, str]] = {
    "customer": bearer("alice"),
    "operator": bearer("ops", operator=True),
    "expired": bearer("alice", ttl=timedelta(seconds=-60)),
    "forged": {"Authorization": "Bearer " + issue_token("not-the-services-secret-0123456789ab",
                                                         "alice")},
    "anonymous": {},
}
SOMEONE = ("customer", "operator")
# What a request valid by the document may be answered: done, or refused for who asks,
# what is there, the deployment's limits or the domain's rules; never 400.
VALID_DATA_ANSWERS = ["2XX", "401", "403", "404", "409", "413", "422", "503"]


def draws_for(caller: str) -> int:
    """Cases hypothesis draws per operation (or scenarios per API) for this caller: a tenth
    for those who are no one, whose every call to a secured route ends at the same 401."""
    return EXAMPLES if caller in SOMEONE else max(3, EXAMPLES // 10)


@schemathesis.check
def error_shape(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every error leaves an API as ``{"error": <code>, "message": <text>}`` (shared.http.errors)."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    shaped = (isinstance(body, dict) and isinstance(body.get("error"), str)
              and isinstance(body.get("message"), str))
    assert shaped, (f'{response.status_code} without the {{"error", "message"}} shape: '
                    f"{response.text[:200]!r}")
    return True


load_all_checks()
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection,
          positive_data_acceptance, error_shape]


@dataclass
class Figures:
    """What a run did and found, over every API."""

    cases: dict[str, int] = field(default_factory=dict)  # per API
    operations: set[str] = field(default_factory=set)  # "api METHOD /path"
    failures: dict[str, str] = field(default_factory=dict)  # a distinct failure -> its report

    def lines(self) -> list[str]:
        total = sum(self.cases.values())
        per_api = ", ".join(f"{api} {n:,}" for api, n in self.cases.items())
        return [(f"{total:,} cases over {len(self.operations)} operations of {len(self.cases)} "
                 f"APIs (FUZZ_EXAMPLES={EXAMPLES}); {len(self.failures)} distinct failure(s)"),
                f"cases per API: {per_api}",
                *(f"failure: {key}" for key in self.failures)]


FIGURES = Figures()


@contextmanager
def fuzzed_api(api: str) -> Iterator[tuple[OpenApiSchema, Callable[[], None]]]:
    """The API's schema, loaded from its app over a fresh embedded system, and the function
    that lets the saga move between calls."""
    waited = views.TOKEN_WAIT_S
    system = embedded_system()
    # No write limits: a stream of writes from one fuzzing customer would mostly meet 429
    # (documented on every write; tests/http/test_abuse_limits.py tests the limits).
    settings_ = http_settings(write_limits=WriteLimits(per_customer=0, per_address=0))
    app: Litestar
    if api == PROJECTOR:
        app = projector_api(system, settings_)
    else:
        app = service_apps(system, settings_)[api]
    config = schemathesis.Config.from_dict({
        "generation": {"with-security-parameters": False},
        "checks": {
            # Data the document calls valid is never refused as malformed (400): the
            # document states every constraint the API enforces on a request's shape.
            "positive_data_acceptance": {"expected-statuses": VALID_DATA_ANSWERS},
            # Invalid data is refused: as malformed (400), too large (413), or not looked
            # at without credentials (401, 403).
            "negative_data_rejection": {"expected-statuses": [
                "400", "401", "403", "404", "405", "406", "409", "413", "415", "422"]},
        },
        # A provider's webhook whose signature does not verify is a 400 (Stripe's own
        # convention): its document cannot tell a valid signature from another.
        "operations": [{"include-path": "/webhooks/stripe", "checks": {
            "positive_data_acceptance": {"expected-statuses": [*VALID_DATA_ANSWERS, "400"]}}}],
    })
    try:
        views.TOKEN_WAIT_S = 0.0
        yield schemathesis.openapi.from_asgi(f"{SCHEMA_PATH}/openapi.json", app, config=config), \
            system.run_until_quiet
    finally:
        views.TOKEN_WAIT_S = waited
        shutdown_lifespans()


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False)


class Fuzzer:
    """Calls an API's operations as one caller, and keeps what it finds."""

    def __init__(self, api: str, schema: OpenApiSchema, caller: str, settle: Callable[[], None]):
        self.api, self.schema, self.caller, self.settle = api, schema, caller, settle
        self.headers = CALLERS[caller]
        self.found: dict[str, str] = {}  # a distinct failure -> the first report of it

    def call(self, case: Case) -> Response:
        """The case as this caller sends it, answered and checked; a failure is recorded."""
        case.headers = {k: v for k, v in (case.headers or {}).items()
                        if k.lower() != "authorization"}
        case.headers.update(self.headers)
        response = case.call()
        FIGURES.cases[self.api] = FIGURES.cases.get(self.api, 0) + 1
        FIGURES.operations.add(f"{self.api} {case.operation.label}")
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as found:
            for failure in found.exceptions:
                self.record(case, failure, str(found))
        self.settle()
        return response

    def record(self, case: Case, failure: Failure, report: str) -> None:
        key = f"{self.api} {case.operation.label}: {failure.title}"
        self.found.setdefault(key, f"as {self.caller}: {shortened(report)}")
        FIGURES.failures.setdefault(key, self.found[key])

    def operations(self) -> list[Any]:
        return [result.ok() for result in self.schema.get_all_operations()]

    def fuzz(self, operation: Any, examples: int) -> None:
        """Positive and negative cases of one operation."""
        cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                          operation.as_strategy(GenerationMode.NEGATIVE))

        @fuzz_settings(examples)
        @given(cases)
        def run(case: Case) -> None:
            self.call(case)

        run()

    def cover(self, operation: Any) -> None:
        """Schemathesis' coverage cases of one operation: each boundary of each parameter
        and field, each missing one, each wrong type, methods the path does not take."""
        for case in self.schema.iter_coverage_cases(
                operation, generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                generation_config=self.schema.config.generation_for(operation=operation)):
            self.call(case)

    def follow_links(self, scenarios: int) -> None:
        """Scenarios of calls chained by the document's links: a call that gave an answer
        with links (a booking made), then the linked calls with the parameters that answer
        gave them (that booking read, paid again, cancelled), in any order and depth."""
        starts = [op for op in self.operations() if links_of(self.schema, op)]
        if not starts:
            return
        fuzzer = self

        class Scenario(RuleBasedStateMachine):
            steps = Bundle("steps")

            @rule(target=steps, case=st.one_of([op.as_strategy() for op in starts]))
            def start(self, case: Case) -> Any:
                return multiple(*fuzzer.step(case))

            @rule(target=steps, step=steps, data=st.data())
            def follow(self, step: tuple[Any, dict[str, Any]], data: st.DataObject) -> Any:
                operation, parameters = step
                case = data.draw(operation.as_strategy(path_parameters=parameters))
                return multiple(*fuzzer.step(case))

        run_state_machine_as_test(
            Scenario, settings=settings(fuzz_settings(scenarios), stateful_step_count=10))

    def step(self, case: Case) -> list[tuple[Any, dict[str, Any]]]:
        """Calls the case; the calls its answer links to, each with its path parameters."""
        response = self.call(case)
        found = []
        for link in links_of(self.schema, case.operation).get(str(response.status_code), {}).values():
            target = operation_at(self.schema, link["operationRef"])
            found.append((target, {name: evaluate(expression, case, response)
                                   for name, expression in link.get("parameters", {}).items()}))
        return found


def shortened(report: str, limit: int = 240) -> str:
    """A report with its long lines (a generated body of thousands of items) cut."""
    return "\n".join(line if len(line) <= limit else line[:limit] + " ..."
                     for line in report.splitlines())


def links_of(schema: OpenApiSchema, operation: Any) -> dict[str, dict[str, Any]]:
    """The operation's links in the document, by response status."""
    responses = schema.raw_schema["paths"][operation.path][operation.method]["responses"]
    return {status: r["links"] for status, r in responses.items() if r.get("links")}


def operation_at(schema: OpenApiSchema, ref: str) -> Any:
    """The operation an ``operationRef`` (``#/paths/<escaped path>/<method>``) names."""
    _, _, escaped, method = ref.split("/")
    path = escaped.replace("~1", "/").replace("~0", "~")
    return schema[path][method.upper()]


def evaluate(expression: str, case: Case, response: Response) -> Any:
    """A link's runtime expression: ``$response.body#/<pointer>`` or ``$request.path.<name>``."""
    if expression.startswith("$request.path."):
        return (case.path_parameters or {})[expression.removeprefix("$request.path.")]
    if expression.startswith("$response.body#/"):
        value = response.json()
        for key in expression.removeprefix("$response.body#/").split("/"):
            value = value[int(key) if isinstance(value, list) else key]
        return value
    raise ValueError(f"a runtime expression the fuzzer does not read: {expression}")
