"""docs/reference/cli.md: every `aimatrix-pipeline` command and option, from the argparse parser.

Walks `aimatrix_pipeline.cli.build_parser()` (the parser the command itself runs), so a new option
or a changed default shows up here on the next regeneration, and a stale page fails the tests.
"""

from __future__ import annotations

import argparse

from aimatrix_pipeline.docs_reference import GENERATED_NOTE, cell


def _subcommands(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, sub, helps.get(name)


def _argument(action: argparse.Action) -> str:
    if action.option_strings:
        names = ", ".join(action.option_strings)
        if action.nargs != 0:
            metavar = action.metavar or (
                "{" + ",".join(map(str, action.choices)) + "}" if action.choices else action.dest.upper())
            names += f" {metavar}"
        return names
    return str(action.metavar or action.dest)


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    text = parser._get_formatter()._expand_help(action) if action.help else ""
    extra = []
    if action.choices and action.option_strings:
        extra.append("one of " + ", ".join(f"`{c}`" for c in action.choices))
    if action.default not in (None, False, argparse.SUPPRESS) and action.nargs != 0 \
            and "default" not in text.lower():
        extra.append(f"default `{action.default}`")
    if action.required and action.option_strings:
        extra.append("required")
    return "; ".join(p for p in [text] + extra if p)


def _commands(parser, path=()):
    for name, sub, summary in _subcommands(parser):
        yield (*path, name), sub, summary
        yield from _commands(sub, (*path, name))


def render() -> str:
    from aimatrix_pipeline.cli import build_parser

    parser = build_parser()
    lines = [GENERATED_NOTE.format(source="the argparse parser in aimatrix_pipeline/cli.py"),
             "# Command line: `aimatrix-pipeline`", "", cell(parser.description), "",
             "Exit codes everywhere: **0** done, **1** the command ran but found a problem, **2** usage or "
             "configuration error, **130** interrupted. `aimatrix-pipeline COMMAND --help` prints the "
             "same text.", "", "| command | what it does |", "| --- | --- |"]
    commands = list(_commands(parser))
    for path, _sub, summary in commands:
        name = " ".join(path)
        lines.append(f"| [`{name}`](#{'-'.join(path)}) | {cell(summary)} |")
    lines.append("")
    for path, sub, _summary in commands:
        lines += [f"## {' '.join(path)}", ""]
        if sub.description:
            lines += [cell(sub.description), ""]
        args = [a for a in sub._actions
                if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]
        if args:
            lines += ["| argument | meaning |", "| --- | --- |"]
            lines += [f"| `{cell(_argument(a))}` | {cell(_help(sub, a))} |" for a in args]
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
