"""Benchmarks of the distributed system: ``python -m bench <scenario>``.

Each run starts a fresh system (own databases, topic prefix, ports) on the local
servers, drives it over HTTP from 127.0.0.1 only, reports, tears everything down.
"""
