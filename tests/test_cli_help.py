"""The command line as a new user meets it: every command's --help works and explains every
option; click's own refusals read like hyperf's (`error: …`, exit 2); and the README's command
reference matches the CLI — a section per command, and every --flag it gives a command is an
option of that command. A README that drifts from the CLI fails here."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hyperf.cli import main
from hyperf.sweep.spec import PointParams

README = Path(__file__).resolve().parents[1] / "README.md"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def walk(group: click.Group = main, path: tuple[str, ...] = ()):
    """Every command under ``group``, lazily loaded groups (``bench``) included."""
    context = click.Context(group)
    for name in sorted(group.list_commands(context)):
        command = group.get_command(context, name)
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))


COMMANDS = dict(walk())


def long_options(command: click.Command) -> set[str]:
    """The --options a user may give ``command`` (a group: any of its subcommands')."""
    names = {"--help"}
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            names.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            names |= long_options(sub)
    return names


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "hyperf")
def test_help_exits_0_and_explains_every_option(path):
    result = CliRunner().invoke(main, [*path, "--help"], prog_name="hyperf")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: hyperf")
    command = COMMANDS.get(path, main)
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"hyperf {' '.join(path)} {param.opts[0]} has no help text"


@pytest.mark.parametrize(
    "args, words",
    [
        (["export", "1", "--format", "xml"], ["--format", "'xml'", "csv", "parquet", "json"]),
        (["frobnicate"], ["frobnicate"]),
        (["sweep"], ["SPEC"]),
        (["bench", "compare", "only.json"], ["NEW.json"]),
        (["calibrate", "--dtype", "int8"], ["--dtype", "int8", "float32"]),
    ],
)
def test_click_refusals_read_like_every_other_bad_input(args, words):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: "), result.output
    assert "Error:" not in result.output and "Traceback" not in result.output
    for word in words:
        assert word in result.output.splitlines()[0], (word, result.output)


def test_profile_help_states_the_sweep_point_defaults():
    """profile's point options default to None ("a sweep point's default"); their help text
    says what that is, and it must be PointParams' default."""
    profile = COMMANDS[("profile",)]
    fields = {
        "--seq-len": "seq_len",
        "--d-model": "d_model",
        "--batch": "batch",
        "--dtype": "dtype",
        "--order": "order",
        "--depth": "depth",
        "--variant": "variant",
        "--emb-dim": "emb_dim",
        "--filter-order": "filter_order",
    }
    for param in profile.params:
        if param.opts[0] in fields:
            stated = re.search(r"\[default: ([^\]]+)\]", param.help).group(1)
            assert stated == str(PointParams.model_fields[fields[param.opts[0]]].default), param


# --- the README -------------------------------------------------------------------------------


def readme_commands(text: str) -> list[str]:
    """Every `hyperf …` command in the README: fenced lines (continuations joined, comments
    dropped) and inline code spans, split at shell operators."""
    found, fenced, pending = [], False, ""
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            line = pending + line.strip()
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            found.append(re.sub(r"\s#.*$", "", line))
        else:
            found.extend(re.findall(r"`([^`]+)`", line))
    parts = (part.strip() for line in found for part in re.split(r"&&|;|\s\|\s|>", line))
    return [part for part in parts if part.startswith("hyperf ")]


CONTEXT = click.Context(main)
# Every top-level command, lazily loaded groups (``bench``) included.
TOP_COMMANDS = {name: main.get_command(CONTEXT, name) for name in main.list_commands(CONTEXT)}


def resolve(words: list[str]) -> tuple[tuple[str, ...], click.Command, list[str]]:
    """The command path a README line names, its command, and the words after it."""
    command: click.Command = main
    path: tuple[str, ...] = ()
    words = words[1:]
    while isinstance(command, click.Group) and words and words[0] in command.list_commands(CONTEXT):
        path += (words[0],)
        command = command.get_command(CONTEXT, words[0])
        words = words[1:]
    return path, command, words


def test_readme_finds_commands_to_check():
    lines = readme_commands(README.read_text())
    named = {resolve(line.split())[0][:1] for line in lines}
    assert len(lines) > 30 and {(name,) for name in TOP_COMMANDS} <= named


@pytest.mark.parametrize("line", readme_commands(README.read_text()))
def test_every_flag_in_a_readme_command_exists(line):
    path, command, rest = resolve(line.split())
    unknown = set(FLAG.findall(" ".join(rest))) - long_options(command)
    if not path:  # `hyperf --version`, `hyperf COMMAND --help`
        unknown -= {"--version"}
    assert not unknown, f"README: `{line}`: hyperf {' '.join(path)} has no {sorted(unknown)}"


def command_sections(text: str) -> dict[str, str]:
    """The README's command reference: section body by command name."""
    body = text[text.index("\n## Commands\n") :]
    body = body[: body.index("\n## ", 1)]
    parts = re.split(r"^### `hyperf ([a-z-]+)`\s*$", body, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_readme_has_a_section_for_every_command_and_no_other():
    assert set(command_sections(README.read_text())) == set(TOP_COMMANDS)


@pytest.mark.parametrize("name", sorted(TOP_COMMANDS))
def test_options_a_readme_section_names_exist(name):
    """In a command's section, every option table row and every inline `--flag …` span names
    an option of that command (of one of its subcommands, for a group)."""
    section = command_sections(README.read_text())[name]
    spans = re.findall(r"`(--[^`]+)`", section)
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    flags = set(FLAG.findall(" ".join(spans + rows)))
    unknown = flags - long_options(TOP_COMMANDS[name])
    assert not unknown, f"README section `hyperf {name}` names {sorted(unknown)}"
