"""Run the theatre service: python -m theatre (settings from CINEMA_* variables)."""

from launcher.bootstrap import main

if __name__ == "__main__":
    main("theatre")
