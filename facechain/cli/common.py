"""What every ``facechain`` command shares: the parser, the help layout, options from config fields.

Nothing here imports torch or diffusers: ``facechain --help`` and ``facechain prepare`` start without
them (each command imports what it needs when it runs).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import textwrap
from pathlib import Path

from ..errors import ExitCode


class Parser(argparse.ArgumentParser):
    """argparse with this project's exit code for bad arguments: 3 (argparse's own 2 means "nothing
    usable" here, see ``facechain.errors``)."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(ExitCode.BAD_ARGUMENTS, f"{self.prog}: error: {message}\n")


class HelpFormatter(argparse.HelpFormatter):
    """Each option's help, then its default only where the default says something: not for flags,
    not for "none" (the help says what happens then), not when the help already names it; required
    options say so. Descriptions wrap by line, and lines indented by two spaces (tables) are kept. No line
    breaks inside a hyphenated word: an option named in a help text (--gradient-checkpointing) stays whole."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = []
        for line in text.splitlines():
            if not line or line.startswith("  "):
                lines.append(indent + line)
            else:
                wrapped = textwrap.wrap(
                    line, width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
                )
                lines.extend(wrapped)
        return "\n".join(lines)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.required and action.option_strings:
            return f"{text} (required)"
        default = action.default
        if (
            not action.option_strings
            or "default" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or default in ([], (), "")
        ):
            return text
        return f"{text} (default: %(default)s)"


def add_command(commands, name: str, help: str, description: str | None = None) -> Parser:
    """A sub-command with its one-line ``help`` (in the list) and ``description`` (in its own --help)."""
    return commands.add_parser(
        name, help=help, description=description or help[0].upper() + help[1:] + ".", formatter_class=HelpFormatter
    )


def add_group(commands, name: str, help: str, description: str):
    """A command with actions of its own (``facechain NAME ACTION``): returns where to add the actions."""
    group = add_command(commands, name, help, description)
    return group.add_subparsers(
        dest="action", required=True, metavar="ACTION", help=f"`facechain {name} ACTION --help` explains each one"
    )


def add_config_options(
    parser: argparse.ArgumentParser, config_class, positional: tuple[str, ...] = (), required: tuple[str, ...] = ()
) -> None:
    """One option per field of a config dataclass that declares its help (``validation.option``), with the
    help, default and choices declared on the field (``metadata``): a flag for a bool (``--x/--no-x`` when it
    is on by default), ``action='append'``
    for a tuple, the field's type else. Fields without a help text are not options."""
    for item in dataclasses.fields(config_class):
        if "help" not in item.metadata:
            continue
        extra = {key: value for key, value in item.metadata.items() if key not in ("help", "aliases")}
        kind = item.type if isinstance(item.type, str) else item.type.__name__
        options = {"help": item.metadata["help"], **extra}
        if kind == "bool":
            on = item.default is True
            options.update(action=argparse.BooleanOptionalAction if on else "store_true", default=on)
        elif kind.startswith("tuple"):
            options.update(action="append", default=[])
        else:
            options["type"] = _value_type(kind)
            if item.default is not dataclasses.MISSING:
                options["default"] = item.default
        if item.name in positional:
            parser.add_argument(item.name, **options)
        else:
            parser.add_argument(
                *item.metadata.get("aliases", ()),
                "--" + item.name.replace("_", "-"),
                required=item.name in required,
                **options,
            )


def config_from_args(config_class, args: argparse.Namespace):
    """The config that ``add_config_options`` options parsed into ``args`` describe (checked on creation)."""
    return config_class(
        **{item.name: getattr(args, item.name) for item in dataclasses.fields(config_class) if "help" in item.metadata}
    )


def _value_type(annotation: str):
    """The argparse type of a field annotation written as text (``from __future__ import annotations``)."""
    head = annotation.split("|")[0].strip()
    return {"int": int, "float": float, "str": str, "Path": Path}[head]
