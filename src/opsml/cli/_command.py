"""How every ``opsml`` command is shaped: its help and its usage errors.

- Help lists each command with a one-line summary (the first sentence of its docstring) and
  each option with its value placeholder (``--space SPACE``), never a type tag.
- A usage error (an unknown command or option, a bad value) is one line on standard error,
  ``error: <what is wrong>``, with the nearest valid name when there is one, and exit
  status 2; an opsml error is ``error: <ErrorClass>: <detail>`` and exit status 1.

Typer builds on click, whose classes it no longer exports (it vendors click since 0.26), so
the click objects handed to these hooks are typed ``Any`` and used only through click's
long-standing documented attributes.
"""

from __future__ import annotations

import difflib
import inspect
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandFunctionType

from opsml.errors import OpsmlError

__all__ = ["OpsmlCommand", "OpsmlGroup", "OpsmlTyper", "did_you_mean", "summary"]


def did_you_mean(word: str, known: Sequence[str]) -> str | None:
    """The entry of ``known`` nearest to ``word`` (difflib's ratio of at least 0.6), if any."""
    matches = difflib.get_close_matches(word, known, n=1)
    return matches[0] if matches else None


def summary(help_text: str | None) -> str:
    """The first sentence of a command's help: its one-line description."""
    paragraph = inspect.cleandoc(help_text or "").split("\n\n")[0].replace("\n", " ")
    return re.split(r"(?<=[.:])\s", paragraph, maxsplit=1)[0].rstrip(".:")


def _metavar(param: Any) -> str:
    return str(param.metavar or param.name.upper())


def _option_row(param: Any) -> tuple[str, str]:
    names = ", ".join(param.opts)
    if param.secondary_opts:
        names += " / " + ", ".join(param.secondary_opts)
    if not (param.is_flag or param.count):
        names += f" {_metavar(param)}"
    notes = []
    default = param.default
    if param.show_default is not False and default not in (None, False, (), []):
        notes.append(f"default: {default}")
    if param.envvar:
        notes.append(f"env: {param.envvar}")
    help_text = param.help or ""
    return names, f"{help_text}  [{'; '.join(notes)}]" if notes else help_text


def _format_help(command: Any, ctx: Any, formatter: Any, subcommands: bool) -> None:
    params = command.get_params(ctx)
    arguments = [p for p in params if p.param_type_name == "argument"]
    options = [p for p in params if p.param_type_name == "option" and not p.hidden]
    usage = ["[OPTIONS]", *(_metavar(p) for p in arguments)]
    if subcommands:
        usage.append("COMMAND [ARGS]...")
    formatter.write_usage(ctx.command_path, " ".join(usage))
    if command.help:
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(inspect.cleandoc(command.help))
    if arguments:
        with formatter.section("Arguments"):
            formatter.write_dl([(_metavar(p), p.help or "") for p in arguments])
    if options:
        with formatter.section("Options"):
            formatter.write_dl([_option_row(p) for p in options])
    if subcommands:
        rows = []
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                rows.append((name, summary(sub.help)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class OpsmlCommand(TyperCommand):
    """A command whose help shows placeholders, not type tags (see the module docstring)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Write usage, description, arguments and options."""
        _format_help(self, ctx, formatter, subcommands=False)


class OpsmlGroup(TyperGroup):
    """A command group: clean help, and one-line usage errors when it is the entry point."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Write usage, description, options and a one-line summary of each command."""
        _format_help(self, ctx, formatter, subcommands=True)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse arguments; a group called with none prints its help and exits with status 2."""
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            typer.echo(ctx.get_help(), err=True)
            raise typer.Exit(code=2)
        rest: list[str] = super().parse_args(ctx, args)
        return rest

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; in standalone mode every failure is one line on stderr."""
        run = super().main
        if not standalone_mode:
            return run(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = run(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except OpsmlError as exc:
            typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
            sys.exit(1)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        except Exception as exc:
            status = getattr(exc, "exit_code", None)
            if not isinstance(status, int) or not hasattr(exc, "format_message"):
                raise  # not click's ClickException: a bug, with its traceback
            typer.echo(f"error: {_usage_error(exc)}", err=True)
            sys.exit(status)
        sys.exit(code if isinstance(code, int) else 0)


def _usage_error(exc: Any) -> str:
    """One line for click's error ``exc``, naming the nearest valid option when it can."""
    option = getattr(exc, "option_name", None)
    possibilities = getattr(exc, "possibilities", None)
    if option and possibilities:  # click's NoSuchOption
        nearest = did_you_mean(option, list(possibilities)) or sorted(possibilities)[0]
        return f"No such option: {option}. Did you mean {nearest}?"
    message = " ".join(str(exc.format_message()).split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and "did you mean" not in message.lower():
        message += f" (see '{ctx.command_path} --help')"
    return message


class OpsmlTyper(typer.Typer):
    """A ``typer.Typer`` made of :class:`OpsmlGroup` and :class:`OpsmlCommand`."""

    def __init__(self, *, help: str, **kwargs: Any) -> None:
        """Create a command group described by ``help`` that prints its help when called bare.

        Args:
            help: The group's description; its first sentence is its summary.
            **kwargs: More ``typer.Typer`` arguments.
        """
        super().__init__(
            cls=OpsmlGroup,
            help=help,
            no_args_is_help=True,
            add_completion=False,
            rich_markup_mode=None,
            pretty_exceptions_enable=False,
            **kwargs,
        )

    def command(
        self,
        name: str | None = None,
        *,
        cls: type[TyperCommand] | None = OpsmlCommand,
        **kwargs: Any,
    ) -> Callable[[CommandFunctionType], CommandFunctionType]:
        """Register a command (an :class:`OpsmlCommand` unless ``cls`` says otherwise)."""
        return super().command(name, cls=cls, **kwargs)
