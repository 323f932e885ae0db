"""Run the booking service: python -m booking (settings from CINEMA_* variables)."""

from launcher.bootstrap import main

if __name__ == "__main__":
    main("booking")
