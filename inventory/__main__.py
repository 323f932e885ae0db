"""Run the inventory service: python -m inventory (settings from CINEMA_* variables)."""

from launcher.bootstrap import main

if __name__ == "__main__":
    main("inventory")
