"""Every command's --help stands on its own (description, exit codes) and exit codes are consistent."""

from __future__ import annotations

import argparse

import pytest

from aimatrix_pipeline import cli


def _leaves(parser, path=()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from _leaves(sub, (*path, name))


LEAVES = list(_leaves(cli.build_parser()))


def test_all_commands_are_there():
    names = {" ".join(p) for p, _ in LEAVES}
    assert {"sql", "publish", "demo", "report slow-queries", "report recommendations", "report cost",
            "alerts list", "alerts resolve", "alerts silence", "dashboard build", "dashboard open",
            "dashboard serve", "dashboard export", "apply"} <= names


@pytest.mark.parametrize("path", [p for p, _ in LEAVES], ids=[" ".join(p) for p, _ in LEAVES])
def test_help_describes_the_command_and_its_exit_codes(path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([*path, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    parser = dict(LEAVES)[path]
    assert parser.description and parser.description.split()[0] in out
    assert "exit codes" in out.lower() or "exit 1" in out.lower(), out


def test_usage_errors_exit_2(tmp_path, monkeypatch, capsys):
    assert cli.main([]) == 2  # no command: help, exit 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["dashboard", "export", "--format", "xml"])
    assert exc.value.code == 2
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", str(tmp_path / "none.duckdb"))
    assert cli.main(["publish"]) == 2
    assert cli.main(["sql", "select 1"]) == 2
    assert "does not exist yet" in capsys.readouterr().err
