"""The pricing API (port 8006): operators change the chain's price rules and set a
show's demand rule; anyone signed in looks prices up and asks for a quote.

Lookups and quotes are answered from the price cache (pricing/price_cache.py), from the
store on a miss. Operators' writes answer with ``X-Consistency-Token``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from pricing.application import PricingService, ShowNotFound
from pricing.domain import InvalidDemandRule, ShowNotPriceable
from pricing.price_sheet import UnknownSeats
from pricing.rules import InvalidRules
from pricing.schemas import (
    CacheView,
    DemandSetting,
    PricesView,
    QuoteRequest,
    QuoteView,
    RuleChangeView,
    RulesChange,
    RulesView,
    cache_view,
    prices_view,
    quote_view,
    rule_change_view,
)
from shared.http.app import ServiceApi
from shared.http.auth import CallerRequest, operator_only
from shared.http.errors import Problem, error_responses
from shared.http.links import links, to
from shared.http.schemas import consistency_token
from shared.quotes import InvalidQuote

ShowPath = Annotated[str, PathParameter(min_length=1, max_length=64,
                                        pattern=r"^[A-Za-z0-9_.:-]+$")]
PROBLEMS = {
    ShowNotFound: Problem(404, "show_not_found", "no show {} with prices"),
    InvalidRules: Problem(422, "invalid_rules"),
    InvalidDemandRule: Problem(422, "invalid_demand_rule"),
    UnknownSeats: Problem(422, "unknown_seat"),
    InvalidQuote: Problem(422, "invalid_quote"),
    ShowNotPriceable: Problem(409, "show_not_on_sale"),
}
# Rules for a chain of theatres are larger than the general request limit.
MAX_RULES_BYTES = 256 * 1024


@dataclass(frozen=True)
class PricingApi:
    """What the handlers use, handed to them as one dependency (shared.http.app: why)."""
    pricing: PricingService
    quote_secret: str  # quotes are signed with the services' shared secret (shared.quotes)


@put("/rules", guards=[operator_only], sync_to_thread=True, status_code=200,
     request_max_body_size=MAX_RULES_BYTES, responses=error_responses(400, 401, 403, 413, 422))
def change_rules(request: CallerRequest, data: JSONBody[RulesChange],
                 api: NamedDependency[PricingApi]) -> Response[RuleChangeView]:
    """A new version of the chain's price rules: base prices per theatre (or "*", the
    chain's default) and category, time bands, day types, seasons, rounding, floors and
    caps. ``new_shows``: it prices the shows put on sale from ``effective_from`` on;
    ``all_shows``: every show on sale is repriced from then on (held bookings keep their
    price). Who changed what and when is kept: GET /rules."""
    done = api.pricing.change_rules(data.rules, data.applies, data.effective_from,
                                    request.user.customer_id, data.note)
    return Response(rule_change_view(done.result),
                    headers=consistency_token(api.pricing, done.position))


@get("/rules", guards=[operator_only], sync_to_thread=True,
     responses=error_responses(400, 401, 403))
def list_rules(api: NamedDependency[PricingApi]) -> RulesView:
    """Every version of the rules, oldest first, with who made it and from when."""
    return RulesView([rule_change_view(c) for c in api.pricing.rule_changes()])


@put("/shows/{show_id:str}/demand", guards=[operator_only], sync_to_thread=True,
     status_code=200, responses=error_responses(400, 401, 403, 404, 409, 413, 422),
     operation_class=links({200: {"GetPrices": to("GET", "/shows/{show_id}/prices",
                                                  show_id="$request.path.show_id")}}))
def set_demand(request: CallerRequest, show_id: ShowPath,
               data: JSONBody[DemandSetting],
               api: NamedDependency[PricingApi]) -> Response[PricesView]:
    """Set a show's demand rule (null: none), a new price version: e.g. +10 % once 70 %
    of a category is booked, +10 % more per further 10 %, at most +30 %. Inventory
    applies it at each hold from the show's own counts."""
    done = api.pricing.set_demand(show_id, data.rule, request.user.customer_id)
    return Response(prices_view(done.result),
                    headers=consistency_token(api.pricing, done.position))


@get("/shows/{show_id:str}/prices", sync_to_thread=True,
     responses=error_responses(400, 401, 404))
def show_prices(show_id: ShowPath, api: NamedDependency[PricingApi]) -> PricesView:
    """A show's prices per category now (demand uplift included), and how each was made."""
    return prices_view(api.pricing.price_sheet(show_id))


@post("/quotes", sync_to_thread=True, status_code=201,
      responses=error_responses(400, 401, 404, 413, 422))
def make_quote(data: JSONBody[QuoteRequest], api: NamedDependency[PricingApi]) -> QuoteView:
    """What these seats cost now, as a quote valid for a few minutes. Pass ``quote`` with
    the booking request: the booking is charged exactly this, or is refused with
    ``price_changed`` if the price moved meanwhile (ask for a new quote)."""
    quoted = api.pricing.quote(data.show_id, list(data.seat_ids), api.quote_secret)
    return quote_view(*quoted)


@get("/cache", guards=[operator_only], sync_to_thread=False,
     responses=error_responses(400, 401, 403))
def cache_stats(api: NamedDependency[PricingApi]) -> CacheView:
    """This instance's price lookups so far: cache hits, misses and failures."""
    return cache_view(api.pricing.cache_stats.as_dict())


API = ServiceApi(
    title="cinema-saga pricing",
    description="The chain's price rules, each show's prices, price lookups and quotes.",
    routes=[change_rules, list_rules, set_demand, show_prices, make_quote, cache_stats],
    problems=PROBLEMS,
    handlers_take=lambda service, views, settings: PricingApi(service, settings.token_secret),
)
create_app = API.create_app

