"""docs/cli.md is generated from the typer app (issue 12 item 10): it fails here when a command, an option or its
help changed without `python -m shuzhi_cli.gen_docs` (or `make cli-docs`)."""

from __future__ import annotations

from shuzhi_cli import gen_docs


def test_cli_reference_is_up_to_date() -> None:
    assert gen_docs.DOC.read_text(encoding="utf-8") == gen_docs.render(), (
        "docs/cli.md is out of date: run `python -m shuzhi_cli.gen_docs` (make cli-docs)")


def test_cli_reference_lists_every_visible_command_and_the_additions() -> None:
    text = gen_docs.render()
    for command in ("shuzhi meeting move", "shuzhi meeting open", "shuzhi calendar set", "shuzhi remind",
                    "shuzhi keymgmt admonish", "shuzhi users token", "shuzhi workplan file"):
        assert f"`{command}`" in text
    additions = text.split("## Beyond the original contract")[1].split("## Global options")[0]
    assert "`shuzhi remind`" in additions and "`shuzhi year start`" not in additions
    assert "`shuzhi meetings" not in text.split("Renamed:")[0].split("## Beyond")[0]  # the hidden alias is not listed
    for code in ("`0`", "`1`", "`2`", "`3`", "`4`"):
        assert f"| {code} |" in text


def test_meetings_is_a_hidden_alias_of_meeting(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("--help")
    assert code == 0 and " meeting " in out and " meetings " not in out
    for group in ("meeting", "meetings"):
        code, out, _ = cli(group, "move", "--help")
        assert code == 0 and "--organizer" in out


def test_gen_docs_check_mode_reports_drift(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stale = tmp_path / "cli.md"
    stale.write_text("old\n", encoding="utf-8")
    monkeypatch.setattr(gen_docs, "DOC", stale)
    assert gen_docs.main(["--check"]) == 1
    assert gen_docs.main([]) == 0 and gen_docs.main(["--check"]) == 0
