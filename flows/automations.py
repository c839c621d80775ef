"""Install the automations of deploy/automations.yaml, replacing those of the same names (safe to repeat).

    PREFECT_API_URL=… python -m flows.automations deploy/automations.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml


def load(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return list(data["automations"] if isinstance(data, dict) else data)


def install(path: Path, *, overrides: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """Create every automation of the file (deleting same-named ones first); `overrides` patch the trigger of the
    automation of that name (the end-to-end test shortens `within`). Returns the names installed."""
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore

    specs = load(path)
    names = []
    with get_client(sync_client=True) as client:
        existing = {a.name: a.id for a in client.read_automations()}
        for spec in specs:
            spec["trigger"].update((overrides or {}).get(spec["name"], {}))
            automation = AutomationCore.model_validate(spec)
            if automation.name in existing:
                client.delete_automation(existing[automation.name])
            client.create_automation(automation)
            names.append(automation.name)
    return names


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "deploy/automations.yaml")
    for name in install(path):
        print(f"automation {name}: installed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
