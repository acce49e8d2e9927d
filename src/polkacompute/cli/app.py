"""`polkacompute`: the command line (Typer + Rich). Every command takes --json for scripts; errors are
one line (--verbose for the trace) with exit codes from `polkacompute.errors`.

Command groups are imported when used, not at start (`LazyGroup`): `polkacompute --help` loads no chain,
sandbox or libp2p library, and `job list` only what it needs.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import typer
from typer._click.core import Command as ClickCommand  # Typer 0.29 ships its own Click
from typer._click.core import Context
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperCommand, TyperGroup

from polkacompute.cli.common import STATE, err_console, reset_state, with_global_options
from polkacompute.cli.lazyimports import defer_keyfile
from polkacompute.errors import PolkaComputeError

# name -> (module in polkacompute.cli, attribute: a Typer group or a command function, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "devnet": ("devnet", "devnet_app", "The local devnet (anvil + the protocol)."),
    "network": ("networks", "network_app", "Known networks."),
    "account": ("accounts", "account_app", "Encrypted keystores."),
    "deploy": ("networks", "deploy_cmd", "Deploys and wires the protocol."),
    "provider": ("providers", "provider_app", "Provider registration and stake."),
    "escrow": ("providers", "escrow_app", "Payments credited to you (pull payments)."),
    "job": ("jobs", "job_app", "Submit, follow, pack and run jobs."),
    "runtime": ("packaging", "runtime_app", "Job runtimes on this machine."),
    "worker": ("workers", "worker_app", "Run a provider's worker."),
    "gateway": ("workers", "gateway_app", "Serve content by CID."),
    "index": ("indexing", "index_cmd", "Index every PolkaCompute event into SQL."),
    "dashboard": ("indexing", "dashboard_cmd", "Serve the web dashboard and the indexer's API."),
}


class LazyGroup(TyperGroup):
    """The root group: lists its commands from `COMMANDS` and imports a command's module only to run it
    (or to show its own help)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> ClickCommand | None:
        if cmd_name not in COMMANDS:
            return None
        if self._listing and cmd_name not in self.commands:  # the root's help needs only names and help
            return TyperCommand(cmd_name, short_help=COMMANDS[cmd_name][2])
        if cmd_name not in self.commands:
            self.commands[cmd_name] = load(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: Context, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def make_context(self, info_name: str | None, args: list[str], parent: Context | None = None,
                     **extra: Any) -> Context:  # fmt: skip
        reset_state()  # one invocation's flags (a test may invoke several in one process)
        return super().make_context(info_name, args, parent, **extra)


def load(name: str) -> ClickCommand:
    module, attribute, short_help = COMMANDS[name]
    target = getattr(importlib.import_module(f"polkacompute.cli.{module}"), attribute)
    if isinstance(target, typer.Typer):
        command: ClickCommand = typer.main.get_group(target)  # without shell-completion options
    else:
        single = typer.Typer(add_completion=False)
        single.command(name, help=target.__doc__)(target)
        command = typer.main.get_command(single)
    command.name = name
    command.short_help = command.short_help or short_help
    return with_global_options(command)  # type: ignore[no-any-return]


cli = with_global_options(LazyGroup(name="polkacompute", help="Verifiable off-chain compute for Polkadot.",
                                    no_args_is_help=True))  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: one readable line per error (one JSON object with --json), the traceback with
    --verbose, typed exit codes."""
    args = list(sys.argv[1:] if argv is None else argv)
    defer_keyfile()  # ~1 s less for every command that reads the chain (see lazyimports)
    try:
        code = cli.main(args, prog_name="polkacompute", standalone_mode=False)
    except NoArgsIsHelpError:  # `polkacompute job`: its help was printed
        code = 0
    except PolkaComputeError as exc:
        code = fail(args, exc.exit_code, exc.message, exc.hint, type(exc).__name__)
    except (typer.Abort, KeyboardInterrupt):
        code = fail(args, 130, "aborted", None, "Aborted")
    except ClickException as exc:  # usage: no such option, a missing argument, a bad value
        ctx = getattr(exc, "ctx", None)
        hint = f"see `{ctx.command_path} --help`" if ctx is not None else "see `polkacompute --help`"
        code = fail(args, exc.exit_code, exc.format_message(), hint, "UsageError")
    except Exception as exc:  # the unexpected: still one line unless --verbose
        code = fail(args, 1, f"{type(exc).__name__}: {exc}", "--verbose shows the traceback", type(exc).__name__)
    sys.exit(code if isinstance(code, int) else 0)


def fail(args: list[str], code: int, message: str, hint: str | None, kind: str) -> int:
    """Prints an error on stderr as one line (`error: message (hint)`) or, with --json, one JSON object
    {"error", "hint", "exit_code", "type"}; returns the exit code."""
    if STATE["verbose"] and sys.exc_info()[0] is not None:
        traceback.print_exc()
    message = one_line(message)
    if STATE["json"] or "--json" in args[: args.index("--") if "--" in args else None]:
        record = {"error": message, "hint": hint, "exit_code": code, "type": kind}
        sys.stderr.write(json.dumps(record) + "\n")
    else:
        text = f"{message} ({hint})" if hint else message
        err_console.print("[red]error:[/] ", end="", highlight=False)
        err_console.print(text, markup=False, highlight=False, soft_wrap=True)
    sys.stderr.flush()
    return code


def one_line(text: str) -> str:
    """A message on one line: a library's multi-line text joined, its blank lines dropped."""
    return re.sub(r"\s*\n\s*", "; ", text.strip()) or "(no message)"
