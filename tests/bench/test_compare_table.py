"""bench.compare's tables: medians over rounds and after / before ratios, per process too."""

from __future__ import annotations

from bench.compare import CPU_GROUPS, figures, print_table


def report(rate: float, confirmed: float, booking_cpu: float, went_back: int = 0) -> dict:
    per = {g: 1.0 for g in CPU_GROUPS} | {"booking": booking_cpu}
    lat = {"post_to_held": {"p50": 10, "p99": 20},
           "post_to_confirmed_first_try": {"p50": 30, "p99": 60}}
    seen = {"post_to_held_visible": {"p50": 70, "p99": 150},
            "post_to_confirmed_visible": {"p50": 90, "p99": 200},
            "bookings_whose_status_went_back": went_back}
    step = {"offered_rate": rate, "confirmed": {"per_s": confirmed}, "server_latency": lat,
            "client_latency": seen, "cpu": {"ms_per_confirmed": per, "other_cores": 0.01}}
    return {"steady": {"result": {"steps": [step]}}}


def test_medians_and_ratios_by_process(capsys):
    runs = {
        "before": [figures(report(40, 30, 12.0, went_back=3)), figures(report(40, 34, 14.0))],
        "after": [figures(report(40, 36, 9.0)), figures(report(40, 36, 11.0))],
    }
    keys = ["confirmed_per_s", "cpu_ms_per_booking", "seen_held_p99", "went_back",
            *(f"cpu_{g}" for g in CPU_GROUPS)]
    table = print_table(runs, keys, "rate/s", width=15)
    row = table[40]
    assert row["before"]["confirmed_per_s"] == 32 and row["after"]["confirmed_per_s"] == 36
    assert row["before"]["cpu_booking"] == 13.0 and row["after"]["cpu_booking"] == 10.0
    assert row["ratio"]["cpu_booking"] == 10.0 / 13.0
    assert row["ratio"]["cpu_kafka"] == 1.0
    assert row["before"]["seen_held_p99"] == row["after"]["seen_held_p99"] == 150
    assert row["before"]["went_back"] == 1.5 and row["after"]["went_back"] == 0
    assert row["before"]["cpu_ms_per_booking"] == 13.0 + len(CPU_GROUPS) - 1
    assert "0.77x" in capsys.readouterr().out
