"""The flow tests use the session-wide Prefect harness of tests/conftest.py (mark a test `prefect`)."""
