"""Pricing service: the chain's price rules, and each show's prices from them."""
