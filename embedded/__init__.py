"""The embedded runtime: all three services in one process, same domain and policies.

It is the quick start and the deterministic simulation: an in-memory broker keeps
the distributed delivery semantics (at-least-once, order per key only, duplicates)
and the services keep their own stores and tracking exactly as when distributed.
"""
