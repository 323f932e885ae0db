"""Test support as code: what more than one test module uses.

Test modules (``test_*.py``) and conftests import from here, never from each other
(tests/test_lint.py checks it). ``servers`` also holds the fixtures for the real servers
(a pytest plugin, registered in tests/conftest.py).
"""
