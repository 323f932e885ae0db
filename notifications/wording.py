"""Money and times as a customer reads them, in English or French: ``€24.00`` or
``24,00 €``, ``Saturday 1 June 2030, 18:00`` or ``samedi 1 juin 2030 à 18:00``.

Small tables rather than a locale library: two languages, three currencies' symbols,
and the system's locale never matters.
"""

from __future__ import annotations

from datetime import datetime

SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}
DECIMALS = {"JPY": 0}  # minor units per currency, where not 2
WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
}
MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"],
}


def money(amount: int, currency: str, language: str) -> str:
    """Minor units in the currency, as the language writes them."""
    places = DECIMALS.get(currency, 2)
    number = f"{amount / 10 ** places:,.{places}f}"
    symbol = SYMBOLS.get(currency)
    if language == "fr":
        number = number.replace(",", "\u202f").replace(".", ",")  # 1 234,50
        return f"{number}\u00a0{symbol or currency}"
    return f"{symbol}{number}" if symbol else f"{number} {currency}"


def moment(at: datetime, language: str) -> str:
    """A day and a time of day, in ``at``'s own time zone."""
    day = f"{WEEKDAYS[language][at.weekday()]} {at.day} {MONTHS[language][at.month - 1]} {at.year}"
    return f"{day} à {at:%H:%M}" if language == "fr" else f"{day}, {at:%H:%M}"


def time_of_day(at: datetime, language: str) -> str:
    return f"{at:%H:%M}" if language == "en" else f"{at:%H}h{at:%M}"
