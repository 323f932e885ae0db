"""Run the pricing service: python -m pricing (settings from CINEMA_* variables)."""

from launcher.bootstrap import main

if __name__ == "__main__":
    main("pricing")
