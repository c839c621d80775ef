"""deploy/*.env.example are read two ways (deploy/README.md): by systemd (`EnvironmentFile=` of the units) and by
an operator's shell (`set -a; . /etc/shuzhi/shuzhi.env; set +a` before `shuzhi init`, `prefect deploy`, …). Copied
as they are, with the optional lines the README tells to uncomment uncommented, both must see the same values."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
EXAMPLES = sorted(DEPLOY.glob("*.env.example"))
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
COMMENTED = re.compile(r"^#\s?([A-Z][A-Z0-9_]*=.*)$")


def uncommented(text: str) -> str:
    """The file as an operator fills it in: every `# KEY=value` line switched on (the Prefect part must be)."""
    return "\n".join(m.group(1) if (m := COMMENTED.match(line)) else line for line in text.splitlines()) + "\n"


def systemd_values(text: str) -> dict[str, str]:
    """systemd.exec(5) EnvironmentFile=: `#`/`;` start a comment only at the start of a line, a value is the rest of
    the line with the surrounding blanks removed (a trailing `# …` stays in it), double quotes around it go."""
    values = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        match = ASSIGNMENT.match(line)
        assert match, f"systemd ignores this line: {raw!r}"
        key, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        values[key] = value
    return values


def shell_values(path: Path) -> tuple[dict[str, str], str]:
    script = f'set -a; . "{path}"; set +a; env -0'
    done = subprocess.run(["bash", "-c", script], env={"PATH": "/usr/bin:/bin"}, capture_output=True, timeout=30)
    pairs = (item.split(b"=", 1) for item in done.stdout.split(b"\0") if b"=" in item)
    return {k.decode(): v.decode() for k, v in pairs}, done.stderr.decode()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_env_example_means_the_same_to_systemd_and_to_the_shell(example: Path, tmp_path: Path) -> None:
    text = uncommented(example.read_text(encoding="utf-8"))
    filled = tmp_path / example.name.removesuffix(".example")
    filled.write_text(text, encoding="utf-8")

    by_systemd = systemd_values(text)
    by_shell, errors = shell_values(filled)

    assert errors == "", f"`. {filled.name}` in a shell: {errors}"
    assert by_systemd, "no settings in the file"
    for key, value in by_systemd.items():
        assert by_shell.get(key) == value, f"{example.name}: {key} is {value!r} for systemd, {by_shell.get(key)!r} for a shell"


def test_shuzhi_env_example_has_the_prefect_settings_a_worker_needs() -> None:
    values = systemd_values(uncommented((DEPLOY / "shuzhi.env.example").read_text(encoding="utf-8")))

    assert values["PREFECT_API_URL"].endswith("/api")
    assert int(values["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"]) == 30  # what automations.yaml's 90 s window expects
    assert float(values["PREFECT_WORKER_QUERY_SECONDS"]) == 1
    assert "PYTHONDONTWRITEBYTECODE" not in values
