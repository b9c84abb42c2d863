"""pysandbox-oci's command line (sentry/cli/oci.py): a command's parser
built alone accepts and refuses what the whole command line does, and the
command is found after the global flags as argparse would find it."""
from __future__ import annotations

import argparse

import pytest

from sentry.cli import oci


def _subparser(p: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    action = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def _shape(p: argparse.ArgumentParser) -> list[tuple]:
    return [(tuple(a.option_strings), a.dest, a.nargs, a.default, a.choices) for a in p._actions]


@pytest.mark.parametrize("name", list(oci._COMMANDS))
def test_a_command_built_alone_is_the_same_parser(name):
    whole, alone = oci.build_parser(), oci.build_parser(only=name)
    assert _shape(_subparser(alone, name)) == _shape(_subparser(whole, name))
    assert _subparser(alone, name).format_help() == _subparser(whole, name).format_help()


@pytest.mark.parametrize("argv, command", [
    (["--root", "/r", "start", "id"], "start"),
    (["--root=/r", "--log", "/l", "--log-format", "json", "delete", "-f", "id"], "delete"),
    (["--platform", "ptrace", "--systemd-cgroup", "exec", "-p", "p.json", "id"], "exec"),
    (["--root", "start"], None),              # "start" is --root's value
    (["--help", "start"], None),              # the top-level help lists every command
    (["-v"], None),
    (["bogus", "start"], None),               # argparse's error names the invalid choice
    ([], None),
])
def test_the_command_after_the_global_flags(argv, command):
    assert oci._command(argv) == command
