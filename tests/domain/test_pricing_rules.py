"""The chain's price rules: what they make a show's prices, step by step, what they refuse,
and which change of them governs a show."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import get_args
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.rules import (
    CATEGORIES,
    Adjustment,
    CannotPrice,
    InvalidRules,
    PriceRules,
    RuleChange,
    Season,
    ShowFacts,
    TimeBand,
    due,
    governing,
    next_due,
    price_show,
)
from shared.contracts import SeatCategory

LONDON = ZoneInfo("Europe/London")
ALL = frozenset(CATEGORIES)
LIST = {"Regular": 900, "Premium": 1100, "Recliner": 1300}  # the theatre's own prices
WEDNESDAY_NOON = datetime(2026, 3, 4, 12, 0, tzinfo=LONDON)


def show(at: datetime = WEDNESDAY_NOON, theatre: str = "t-1",
         categories: frozenset[str] = ALL, currency: str = "GBP") -> ShowFacts:
    return ShowFacts(theatre_id=theatre, local_start=at, categories=categories,
                     list_prices=dict(LIST), currency=currency)


def rules(**given: object) -> PriceRules:
    given.setdefault("base", {"*": {"Regular": 1000, "Premium": 1200, "Recliner": 1500}})
    return PriceRules(**given)  # type: ignore[arg-type]


def prices(r: PriceRules | None, facts: ShowFacts) -> dict[str, int]:
    return price_show(r, facts).prices


def test_the_categories_are_the_contracts_seat_categories() -> None:
    assert CATEGORIES == get_args(SeatCategory) == ("Regular", "Premium", "Recliner")


# --- each rule alone -------------------------------------------------------------------


def test_without_rules_a_show_keeps_its_list_prices_in_its_currency() -> None:
    priced = price_show(None, show(categories=frozenset({"Regular", "Premium"}), currency="EUR"))
    assert priced.prices == {"Regular": 900, "Premium": 1100}
    assert (priced.caps, priced.rounding, priced.currency) == ({}, 1, "EUR")
    assert priced.explanation["Regular"] == ["list price 900 (theatre t-1)"]


def test_the_theatres_base_beats_the_chains_which_beats_the_list_price() -> None:
    r = PriceRules(base={"*": {"Regular": 1000, "Premium": 1200},
                         "t-1": {"Regular": 800}})
    priced = price_show(r, show())
    assert priced.prices == {"Regular": 800, "Premium": 1200, "Recliner": 1300}
    assert priced.explanation == {"Regular": ["base 800 (theatre t-1)"],
                                  "Premium": ["base 1200 (chain default)"],
                                  "Recliner": ["list price 1300 (theatre t-1)"]}
    # Another theatre's base is not this one's.
    assert prices(r, show(theatre="t-2"))["Regular"] == 1000


def test_only_the_shows_categories_are_priced() -> None:
    assert prices(rules(), show(categories=frozenset({"Premium"}))) == {"Premium": 1200}


def test_the_time_band_containing_the_start_applies_and_no_other() -> None:
    r = rules(time_bands=[
        TimeBand(name="matinee", starts="12:00", ends="17:00", adjustment=Adjustment(percent=80)),
        TimeBand(name="evening", starts="17:00", ends="22:00",
                 adjustment=Adjustment(percent=120, add=50)),
    ])
    on = WEDNESDAY_NOON.replace
    assert prices(r, show(on(hour=11, minute=59)))["Regular"] == 1000  # in no band
    assert prices(r, show(on(hour=12)))["Regular"] == 800  # a band starts at its start
    assert prices(r, show(on(hour=16, minute=59)))["Regular"] == 800
    assert prices(r, show(on(hour=17)))["Regular"] == 1250  # ... and ends before its end
    assert price_show(r, show(on(hour=19))).explanation["Regular"] == [
        "base 1000 (chain default)", "evening 120% +50 -> 1250"]


def test_a_late_band_wraps_past_midnight() -> None:
    r = rules(time_bands=[TimeBand(name="late", starts="22:00", ends="02:00",
                                   adjustment=Adjustment(percent=80))])
    at = WEDNESDAY_NOON.replace
    assert prices(r, show(at(hour=21, minute=59)))["Regular"] == 1000
    assert prices(r, show(at(hour=22)))["Regular"] == 800
    assert prices(r, show(at(hour=23, minute=45)))["Regular"] == 800
    assert prices(r, show(at(hour=0, minute=0)))["Regular"] == 800
    assert prices(r, show(at(hour=1, minute=59)))["Regular"] == 800
    assert prices(r, show(at(hour=2)))["Regular"] == 1000


def test_a_band_ending_where_it_starts_is_the_whole_day() -> None:
    r = rules(time_bands=[TimeBand(name="evening", starts="18:00", ends="18:00",
                                   adjustment=Adjustment(percent=150))])
    for hour in (0, 12, 17, 18, 23):
        assert prices(r, show(WEDNESDAY_NOON.replace(hour=hour)))["Regular"] == 1500


def test_the_band_is_read_from_the_local_time_not_utc() -> None:
    r = rules(time_bands=[TimeBand(name="evening", starts="18:00", ends="22:00",
                                   adjustment=Adjustment(percent=150))])
    summer_evening = datetime(2026, 7, 1, 18, 30, tzinfo=LONDON)  # 17:30 UTC
    assert prices(r, show(summer_evening))["Regular"] == 1500


def test_day_types_weekday_and_weekend() -> None:
    r = rules(day_types={"weekday": Adjustment(percent=90), "weekend": Adjustment(add=200)})
    saturday, sunday = datetime(2026, 12, 19, 15, tzinfo=LONDON), datetime(2026, 12, 20, 15,
                                                                            tzinfo=LONDON)
    assert prices(r, show(WEDNESDAY_NOON))["Regular"] == 900
    assert prices(r, show(saturday))["Regular"] == 1200
    assert prices(r, show(sunday))["Regular"] == 1200
    assert price_show(r, show(saturday)).explanation["Regular"][-1] == "weekend +200 -> 1200"


def test_a_public_holiday_beats_the_weekend() -> None:
    boxing_day = datetime(2026, 12, 26, 15, tzinfo=LONDON)  # a Saturday
    r = rules(day_types={"weekend": Adjustment(add=200),
                         "public_holiday": Adjustment(add=500)},
              public_holidays=[date(2026, 12, 25), date(2026, 12, 26)])
    assert prices(r, show(boxing_day))["Regular"] == 1500
    assert price_show(r, show(boxing_day)).explanation["Regular"][-1] == (
        "public holiday +500 -> 1500")
    christmas = datetime(2026, 12, 25, 15, tzinfo=LONDON)  # a Friday
    assert prices(r, show(christmas))["Regular"] == 1500


def test_a_public_holiday_without_its_own_adjustment_is_not_a_weekend() -> None:
    boxing_day = datetime(2026, 12, 26, 15, tzinfo=LONDON)
    r = rules(day_types={"weekend": Adjustment(add=200)}, public_holidays=[date(2026, 12, 26)])
    assert prices(r, show(boxing_day))["Regular"] == 1000


def test_every_season_containing_the_date_applies_in_list_order() -> None:
    r = rules(seasons=[
        Season(name="Winter", first=date(2026, 12, 1), last=date(2027, 2, 28),
               adjustment=Adjustment(add=-100)),
        Season(name="Christmas", first=date(2026, 12, 20), last=date(2026, 12, 26),
               adjustment=Adjustment(percent=150)),
    ])
    # (1000 - 100) * 150% = 1350; the other order would give 1400.
    assert prices(r, show(datetime(2026, 12, 22, 15, tzinfo=LONDON)))["Regular"] == 1350
    assert prices(r, show(datetime(2026, 12, 1, 15, tzinfo=LONDON)))["Regular"] == 900
    assert prices(r, show(datetime(2027, 2, 28, 15, tzinfo=LONDON)))["Regular"] == 900  # last day
    assert prices(r, show(datetime(2027, 3, 1, 15, tzinfo=LONDON)))["Regular"] == 1000
    assert prices(r, show(datetime(2026, 12, 26, 23, tzinfo=LONDON)))["Regular"] == 1350


def test_a_percent_rounds_half_up_to_one_minor_unit() -> None:
    r = PriceRules(base={"*": {"Regular": 1005, "Premium": 1003}},
                   day_types={"weekday": Adjustment(percent=50)})
    assert prices(r, show(categories=frozenset({"Regular", "Premium"}))) == {
        "Regular": 503,  # 502.5
        "Premium": 502,  # 501.5
    }
    r = PriceRules(base={"*": {"Regular": 1001}}, day_types={"weekday": Adjustment(percent=50)})
    assert prices(r, show(categories=frozenset({"Regular"}))) == {"Regular": 501}  # 500.5


def test_rounding_to_the_step_is_half_up() -> None:
    base = {"Regular": 1025, "Premium": 1024, "Recliner": 1075}
    priced = price_show(PriceRules(base={"*": base}, rounding=50), show())
    assert priced.prices == {"Regular": 1050, "Premium": 1000, "Recliner": 1100}
    assert priced.rounding == 50
    assert priced.explanation["Premium"] == ["base 1024 (chain default)",
                                             "rounded to 50 -> 1000"]
    # A price already on the step says nothing about rounding.
    assert price_show(PriceRules(base={"*": {"Regular": 1000}}, rounding=50),
                      show(categories=frozenset({"Regular"}))).explanation["Regular"] == [
        "base 1000 (chain default)"]


def test_floors_and_caps_clamp_after_rounding() -> None:
    r = rules(floors={"Regular": 1100}, caps={"Recliner": 1400, "Premium": 5000})
    priced = price_show(r, show())
    assert priced.prices == {"Regular": 1100, "Premium": 1200, "Recliner": 1400}
    assert priced.explanation["Regular"][-1] == "raised to the floor 1100"
    assert priced.explanation["Recliner"][-1] == "capped at 1400"
    assert priced.explanation["Premium"] == ["base 1200 (chain default)"]  # under its cap
    assert priced.caps == {"Premium": 5000, "Recliner": 1400}
    # Only the caps of the show's categories.
    assert price_show(r, show(categories=frozenset({"Regular"}))).caps == {}


def test_a_negative_add_never_takes_a_price_below_0() -> None:
    r = rules(day_types={"weekday": Adjustment(add=-1500)},
              seasons=[Season(name="Spring", first=date(2026, 3, 1), last=date(2026, 3, 31),
                              adjustment=Adjustment(add=300))])
    priced = price_show(r, show())
    # Regular: 1000 - 1500 stops at 0, and the season adds to 0, not to -500.
    assert priced.prices == {"Regular": 300, "Premium": 300, "Recliner": 300}
    assert priced.explanation["Regular"] == ["base 1000 (chain default)",
                                             "weekday -1500 -> 0 (-500, never below 0)",
                                             "season Spring +300 -> 300"]


def test_every_rule_together_on_a_recliner_on_a_festival_saturday_evening() -> None:
    r = PriceRules(
        currency="GBP",
        base={"*": {"Regular": 1000, "Premium": 1300, "Recliner": 1600},
              "t-1": {"Recliner": 1800}},
        time_bands=[
            TimeBand(name="matinee", starts="12:00", ends="17:00",
                     adjustment=Adjustment(percent=80)),
            TimeBand(name="evening", starts="17:00", ends="22:00",
                     adjustment=Adjustment(percent=125)),
            TimeBand(name="late", starts="22:00", ends="02:00",
                     adjustment=Adjustment(percent=90)),
        ],
        day_types={"weekday": Adjustment(percent=95), "weekend": Adjustment(add=150),
                   "public_holiday": Adjustment(add=400)},
        public_holidays=[date(2026, 8, 31)],
        seasons=[
            Season(name="Festival", first=date(2026, 8, 7), last=date(2026, 8, 31),
                   adjustment=Adjustment(percent=110, add=-25)),
            Season(name="Summer", first=date(2026, 6, 1), last=date(2026, 8, 31),
                   adjustment=Adjustment(percent=95)),
            Season(name="Christmas", first=date(2026, 12, 1), last=date(2026, 12, 31),
                   adjustment=Adjustment(percent=200)),
        ],
        rounding=50,
        floors={"Regular": 1500, "Recliner": 1000},
        caps={"Recliner": 2450},
    )
    saturday_evening = datetime(2026, 8, 15, 19, 0, tzinfo=LONDON)
    # Recliner at t-1: the theatre's base 1800; evening 125% -> 2250; weekend +150 -> 2400;
    # Festival 110% = 2640, -25 -> 2615; Summer 95% = 2484.25 -> 2484; rounded half up to
    # 50 -> 2500; above the cap 2450 -> 2450.
    # Regular: the chain's 1000; 125% -> 1250; +150 -> 1400; 110% = 1540, -25 -> 1515;
    # 95% = 1439.25 -> 1439; to 50 -> 1450; under the floor 1500 -> 1500.
    # Premium: the chain's 1300; 1625; 1775; 1952.5 -> 1953, -25 -> 1928; 1831.6 -> 1832;
    # to 50 -> 1850; no floor or cap.
    priced = price_show(r, show(saturday_evening))
    assert priced.prices == {"Recliner": 2450, "Regular": 1500, "Premium": 1850}
    assert priced.explanation["Recliner"] == [
        "base 1800 (theatre t-1)",
        "evening 125% -> 2250",
        "weekend +150 -> 2400",
        "season Festival 110% -25 -> 2615",
        "season Summer 95% -> 2484",
        "rounded to 50 -> 2500",
        "capped at 2450",
    ]
    assert priced.explanation["Regular"][-2:] == ["rounded to 50 -> 1450",
                                                  "raised to the floor 1500"]
    assert (priced.caps, priced.rounding, priced.currency) == ({"Recliner": 2450}, 50, "GBP")
    # The same seat at another theatre, on the festival's bank holiday Monday, late:
    # chain 1600; late 90% -> 1440; public holiday +400 -> 1840; 110% = 2024, -25 -> 1999;
    # 95% = 1899.05 -> 1899; to 50 -> 1900.
    late_holiday = datetime(2026, 8, 31, 23, 0, tzinfo=LONDON)
    assert prices(r, show(late_holiday, theatre="t-2"))["Recliner"] == 1900


# --- what cannot be priced ---------------------------------------------------------------


def test_a_category_with_no_base_and_no_list_price_cannot_be_priced() -> None:
    facts = show()._replace(list_prices={"Regular": 900})
    with pytest.raises(CannotPrice, match="no price for Premium at theatre t-1"):
        price_show(PriceRules(base={"*": {"Recliner": 1000}}), facts)
    with pytest.raises(CannotPrice, match="no list price for Premium, Recliner"):
        price_show(None, facts)


def test_list_prices_in_another_currency_are_not_mixed_with_the_rules() -> None:
    r = PriceRules(currency="GBP", base={"*": {"Regular": 1000}})
    with pytest.raises(CannotPrice, match="in the rules' GBP, and the show's list prices are "
                                          "in EUR"):
        price_show(r, show(currency="EUR"))
    # Every category priced by the rules: their currency is the show's price currency.
    priced = price_show(r, show(categories=frozenset({"Regular"}), currency="EUR"))
    assert (priced.prices, priced.currency) == ({"Regular": 1000}, "GBP")


def test_pricing_refuses_invalid_rules() -> None:
    with pytest.raises(InvalidRules, match="rounding 0"):
        price_show(rules(rounding=0), show())


# --- validation ----------------------------------------------------------------------------

BAND = Adjustment(percent=110)


@pytest.mark.parametrize(("given", "message"), [
    ({"base": {}}, "base is empty: give the chain's prices ('*') or a theatre's"),
    ({"base": {"*": {"Balcony": 900}}},
     "base of the chain ('*'): no seat category 'Balcony' (one of Regular, Premium, Recliner)"),
    ({"base": {"t-1": {"Regular": -1}}}, "base of theatre t-1: Regular -1 is negative"),
    ({"floors": {"Box": 100}}, "floor: no seat category 'Box'"),
    ({"caps": {"Regular": -50}}, "cap: Regular -50 is negative"),
    ({"floors": {"Regular": 2000}, "caps": {"Regular": 1500}},
     "floor 2000 of Regular is above its cap 1500"),
    ({"rounding": 50, "floors": {"Regular": 1020}},
     "floor 1020 of Regular is not a multiple of the rounding step 50"),
    ({"rounding": 50, "caps": {"Premium": 1999}},
     "cap 1999 of Premium is not a multiple of the rounding step 50"),
    ({"rounding": 0}, "rounding 0: the step is at least 1 minor unit"),
    ({"currency": "gbp"}, "currency 'gbp' is not 3 upper-case letters like GBP"),
    ({"currency": "POUND"}, "currency 'POUND' is not 3 upper-case letters"),
    ({"day_types": {"weekend": Adjustment(percent=-10)}}, "weekend: percent -10 is negative"),
    ({"seasons": [Season(name="Lent", first=date(2026, 2, 18), last=date(2026, 4, 2),
                         adjustment=Adjustment(percent=-1))]},
     "season Lent: percent -1 is negative"),
    ({"time_bands": [TimeBand(name="late", starts="22:00", ends="2:00", adjustment=BAND)]},
     "time band late: '2:00' is not a time like 18:30"),
    ({"time_bands": [TimeBand(name="late", starts="24:00", ends="02:00", adjustment=BAND)]},
     "time band late: '24:00' is not a time like 18:30"),
    ({"time_bands": [TimeBand(name="evening", starts="18:00", ends="22:30", adjustment=BAND),
                     TimeBand(name="late", starts="22:00", ends="02:00", adjustment=BAND)]},
     "time bands evening (18:00-22:30) and late (22:00-02:00) overlap"),
    ({"time_bands": [TimeBand(name="morning", starts="01:00", ends="11:00", adjustment=BAND),
                     TimeBand(name="late", starts="22:00", ends="02:00", adjustment=BAND)]},
     "time bands morning (01:00-11:00) and late (22:00-02:00) overlap"),
    ({"time_bands": [TimeBand(name="evening", starts="18:00", ends="22:01", adjustment=BAND),
                     TimeBand(name="late", starts="22:00", ends="02:00", adjustment=BAND)]},
     "time bands evening (18:00-22:01) and late (22:00-02:00) overlap"),  # by one minute
    ({"time_bands": [TimeBand(name="evening", starts="18:00", ends="18:00", adjustment=BAND),
                     TimeBand(name="morning", starts="09:00", ends="10:00", adjustment=BAND)]},
     "time bands evening (18:00-18:00) and morning (09:00-10:00) overlap"),
    ({"seasons": [Season(name="Summer", first=date(2026, 8, 31), last=date(2026, 6, 1),
                         adjustment=BAND)]},
     "season Summer: its last day 2026-06-01 is before its first 2026-08-31"),
    ({"seasons": [Season(name=" ", first=date(2026, 6, 1), last=date(2026, 8, 31),
                         adjustment=BAND)]},
     "the season from 2026-06-01 to 2026-08-31 needs a name"),
])
def test_invalid_rules_say_what_is_wrong(given: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRules) as refused:
        rules(**given).validate()
    assert message in str(refused.value)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(InvalidRules) as refused:
        rules(currency="gb", rounding=0, floors={"Regular": -5}).validate()
    assert str(refused.value).count("; ") == 2


def test_valid_rules_pass_including_bands_that_touch_and_a_season_of_one_day() -> None:
    rules(
        time_bands=[
            TimeBand(name="matinee", starts="12:00", ends="17:00", adjustment=BAND),
            TimeBand(name="evening", starts="17:00", ends="22:00", adjustment=BAND),
            TimeBand(name="late", starts="22:00", ends="00:00", adjustment=BAND),
            TimeBand(name="morning", starts="00:00", ends="12:00", adjustment=BAND),
        ],
        seasons=[Season(name="Premiere", first=date(2026, 5, 4), last=date(2026, 5, 4),
                        adjustment=Adjustment(add=-2000))],
        rounding=10, floors={"Regular": 500}, caps={"Regular": 500},
    ).validate()


def test_rules_decode_strictly_from_json() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field `discount`"):
        msgspec.json.decode(b'{"base": {"*": {"Regular": 1}}, "discount": 5}', type=PriceRules)
    with pytest.raises(msgspec.ValidationError, match="Invalid enum value 'night'"):
        msgspec.json.decode(b'{"base": {"*": {}}, "time_bands": [{"name": "night", '
                            b'"starts": "22:00", "ends": "02:00", "adjustment": {}}]}',
                            type=PriceRules)


# --- effective dating --------------------------------------------------------------------

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def change(version: int, applies: str, effective_from: datetime,
           changed_at: datetime | None = None) -> RuleChange:
    return RuleChange(version=version, rules=rules(rounding=version),
                      applies=applies,  # type: ignore[arg-type]
                      effective_from=effective_from, changed_by="ops",
                      changed_at=changed_at or T0)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def test_no_change_governs_before_any_is_in_force() -> None:
    assert governing([], hours(1), hours(2)) is None
    assert governing([change(1, "all_shows", hours(5))], hours(1), hours(4)) is None


def test_a_change_for_new_shows_governs_shows_put_on_sale_from_its_effective_from() -> None:
    changes = [change(1, "all_shows", T0), change(2, "new_shows", hours(10))]
    assert governing(changes, hours(9), hours(20)) == changes[0]  # on sale before it
    assert governing(changes, hours(10), hours(20)) == changes[1]  # at its effective_from
    assert governing(changes, hours(11), hours(20)) == changes[1]


def test_a_change_for_all_shows_governs_every_show_once_in_force() -> None:
    changes = [change(1, "all_shows", T0), change(2, "new_shows", hours(10)),
               change(3, "all_shows", hours(30))]
    assert governing(changes, hours(1), hours(29)) == changes[0]
    assert governing(changes, hours(12), hours(29)) == changes[1]
    assert governing(changes, hours(1), hours(30)) == changes[2]
    assert governing(changes, hours(12), hours(30)) == changes[2]


def test_the_highest_version_in_force_governs_whatever_the_list_order() -> None:
    changes = [change(3, "new_shows", hours(2)), change(1, "all_shows", T0),
               change(2, "all_shows", hours(1))]
    assert governing(changes, hours(3), hours(4)) == changes[0]
    assert governing(changes, hours(0.5), hours(4)) == changes[2]


def test_a_change_takes_effect_no_earlier_than_it_was_recorded() -> None:
    # Recorded at hour 12 with an effective_from of hour 5: a show put on sale at hour 8
    # was priced before the change existed and keeps its rules.
    backdated = change(2, "new_shows", hours(5), changed_at=hours(12))
    changes = [change(1, "all_shows", T0), backdated]
    assert backdated.in_force_from == hours(12)
    assert governing(changes, hours(8), hours(20)) == changes[0]
    assert governing(changes, hours(12), hours(20)) == backdated
    # As of a time before it was recorded, it does not exist.
    assert governing(changes, hours(13), hours(11)) == changes[0]


def test_due_are_the_changes_for_all_shows_in_force_since_the_last_look() -> None:
    changes = [change(1, "all_shows", T0), change(2, "new_shows", hours(5)),
               change(4, "all_shows", hours(8)), change(3, "all_shows", hours(6)),
               change(5, "all_shows", hours(20))]
    assert due(changes, hours(0), hours(8)) == [changes[3], changes[2]]  # in (0, 8], in order
    assert due(changes, hours(6), hours(8)) == [changes[2]]  # hour 6 was seen already
    assert due(changes, hours(8), hours(19)) == []
    assert due(changes, hours(-1), hours(0)) == [changes[0]]
    # Recorded after its effective_from, it falls due when recorded.
    late = change(6, "all_shows", hours(1), changed_at=hours(21))
    assert due([late], hours(20), hours(21)) == [late]
    assert due([late], hours(0), hours(20)) == []


def test_next_due_is_the_earliest_change_for_all_shows_still_to_come() -> None:
    changes = [change(1, "all_shows", T0), change(2, "new_shows", hours(5)),
               change(3, "all_shows", hours(30)), change(4, "all_shows", hours(8))]
    assert next_due(changes, hours(1)) == hours(8)  # not the change for new shows at 5
    assert next_due(changes, hours(8)) == hours(30)  # at now it is due, not next
    assert next_due(changes, hours(30)) is None
    assert next_due([], T0) is None


def test_a_rule_change_round_trips_through_json() -> None:
    c = change(7, "all_shows", hours(3))
    assert msgspec.json.decode(msgspec.json.encode(c), type=RuleChange) == c


# --- properties ----------------------------------------------------------------------------

EXAMPLES = {"dev": 50, "ci": 150, "long": 3_000}[os.environ.get("HYPOTHESIS_PROFILE", "ci")]
THEATRES = ["t-1", "t-2", "t-3"]
ZONES = [LONDON, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]
STEPS = [1, 5, 10, 25, 50, 100]
DAYS = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))
adjustments = st.builds(Adjustment, percent=st.integers(0, 300), add=st.integers(-3000, 3000))
category_prices = st.dictionaries(st.sampled_from(CATEGORIES), st.integers(0, 20_000))


def hhmm(quarter: int) -> str:
    return f"{quarter * 15 // 60:02d}:{quarter * 15 % 60:02d}"


@st.composite
def time_bands(draw: st.DrawFn) -> list[TimeBand]:
    """Bands between sorted quarter hours of a day, turned by an offset so that some wrap
    past midnight: they never overlap."""
    points = sorted(draw(st.sets(st.integers(0, 95), max_size=8)))
    turn = draw(st.integers(0, 95))
    bands = [TimeBand(name=draw(st.sampled_from(["morning", "matinee", "evening", "late"])),
                      starts=hhmm((a + turn) % 96), ends=hhmm((b + turn) % 96),
                      adjustment=draw(adjustments))
             for a, b in zip(points[::2], points[1::2], strict=False)]
    return draw(st.permutations(bands))


@st.composite
def seasons(draw: st.DrawFn) -> Season:
    first = draw(DAYS)
    return Season(name=draw(st.sampled_from(["Summer", "Festival", "Christmas"])), first=first,
                  last=first + timedelta(days=draw(st.integers(0, 90))),
                  adjustment=draw(adjustments))


@st.composite
def price_rules(draw: st.DrawFn) -> PriceRules:
    step = draw(st.sampled_from(STEPS))
    floors, caps = {}, {}
    for cat in CATEGORIES:
        floor = draw(st.integers(0, 10_000 // step)) * step
        cap = floor + draw(st.integers(0, 10_000 // step)) * step
        kind = draw(st.sampled_from(["none", "floor", "cap", "both"]))
        if kind in ("floor", "both"):
            floors[cat] = floor
        if kind in ("cap", "both"):
            caps[cat] = cap
    return PriceRules(
        currency=draw(st.sampled_from(["GBP", "EUR"])),
        base=draw(st.dictionaries(st.sampled_from(["*", *THEATRES]), category_prices,
                                  min_size=1)),
        time_bands=draw(time_bands()),
        day_types=draw(st.dictionaries(st.sampled_from(["weekday", "weekend", "public_holiday"]),
                                       adjustments)),
        public_holidays=draw(st.lists(DAYS, max_size=10)),
        seasons=draw(st.lists(seasons(), max_size=4)),
        rounding=step, floors=floors, caps=caps,
    )


@st.composite
def rules_and_shows(draw: st.DrawFn) -> tuple[PriceRules, ShowFacts]:
    r = draw(price_rules())
    facts = ShowFacts(
        theatre_id=draw(st.sampled_from(THEATRES)),
        local_start=draw(st.datetimes(min_value=datetime(2026, 1, 1),
                                      max_value=datetime(2027, 12, 31, 23, 59),
                                      timezones=st.sampled_from(ZONES), allow_imaginary=False)),
        categories=draw(st.frozensets(st.sampled_from(CATEGORIES), min_size=1)),
        list_prices={cat: draw(st.integers(0, 20_000)) for cat in CATEGORIES},
        currency=r.currency,
    )
    return r, facts


@settings(max_examples=EXAMPLES, deadline=None)
@given(rules_and_shows())
def test_every_price_is_between_its_floor_and_cap_and_on_the_step(
        case: tuple[PriceRules, ShowFacts]) -> None:
    r, facts = case
    priced = price_show(r, facts)
    assert set(priced.prices) == set(priced.explanation) == facts.categories
    for cat, price in priced.prices.items():
        assert r.floors.get(cat, 0) <= price
        assert price <= r.caps.get(cat, price)
        assert price % r.rounding == 0
    assert priced.caps == {cat: cap for cat, cap in r.caps.items() if cat in facts.categories}


@settings(max_examples=EXAMPLES, deadline=None)
@given(rules_and_shows())
def test_the_same_rules_and_show_always_give_the_same_prices(
        case: tuple[PriceRules, ShowFacts]) -> None:
    r, facts = case
    first = price_show(r, facts)
    assert price_show(r, facts) == first
    decoded = msgspec.json.decode(msgspec.json.encode(r), type=PriceRules)
    assert decoded == r
    assert price_show(decoded, facts) == first
