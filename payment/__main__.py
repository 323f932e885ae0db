"""Run the payment service: python -m payment (settings from CINEMA_* variables)."""

from launcher.bootstrap import main

if __name__ == "__main__":
    main("payment")
