"""`scripts/run --embedded demo`: the scripted tour runs every path, the theatre's too."""

from __future__ import annotations

import pytest

from embedded.cli import main


def test_the_demo_tours_every_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    outcomes = {line.split(":")[0]: line for line in out.splitlines()[-9:]}
    assert "CANCELLED (seat_withdrawn)" in outcomes["ann-1"] and "refunded 24.00" in outcomes["ann-1"]
    assert "CANCELLED (seats_unavailable)" in outcomes["bob-3"]
    assert "CONFIRMED" in outcomes["cat-4"]
    assert "CANCELLED (hold_expired)" in outcomes["dan-5"]
    assert "CANCELLED (cancelled_by_customer)" in outcomes["eve-6"]
    assert "CANCELLED (show_cancelled)" in outcomes["fay-7"] and "refunded 20.00" in outcomes["fay-7"]
    assert "refused at once" in out and "A1:-" in out  # a taken seat; a withdrawn one
    assert "show-2: Arrival at Odeon" in out and "CANCELLED, 10 of 10 seats free" in out
    # A quote older than a rule change is refused; a fresh one is charged as quoted.
    assert "CANCELLED (price_changed)" in outcomes["gus-8"]
    assert "CONFIRMED seats=A8 15.00 EUR" in outcomes["gus-9"]
    assert "q2: A8 for 15.00 EUR" in out and "price version 2 (rules version 1)" in out
    # 3-D Secure: the payment waits for the customer, who authenticates.
    assert "hal-10: PAYMENT_PENDING seats=A9 15.00 EUR, waiting for the customer to" in out
    assert "CONFIRMED seats=A9" in outcomes["hal-10"]
    # What the notification service sent to the customers who gave an address, each once.
    sent = [line for line in out.splitlines() if line.startswith("to ")]
    assert sent.count(next(s for s in sent if "Your tickets for Dune" in s)) == 1
    assert any(s.startswith("to cat@example.com: Vos billets pour Dune") for s in sent)
    assert any(s.startswith("to ann@example.com: Booking") and "is cancelled" in s for s in sent)
    assert any(s.startswith("to ann@example.com: €24.00 refunded") for s in sent)


def test_the_shell_says_what_it_cannot_do(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO(
        "frobnicate\nschedule s odeon one Dune +1 19:30 900\ntheatre odeon Odeon London Mars/Base\n"))
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "unknown command: frobnicate" in out
    assert "not found" in out  # no such theatre yet
    assert "refused" in out  # no such time zone
