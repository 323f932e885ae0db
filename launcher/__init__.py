"""Starts and stops the distributed system on this machine (one process per service)."""
