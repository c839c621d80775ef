"""Use cases every entry point calls: the CLI, the web console, Prefect flows and the scheduler."""
