"""Thin Prefect flows over the services: parse parameters, build what they need, call a service, leave an artifact."""
