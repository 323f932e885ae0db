"""Run the notification service: python -m notifications (settings from CINEMA_* variables)."""

from launcher.bootstrap import main

if __name__ == "__main__":
    main("notifications")
