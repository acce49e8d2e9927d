"""`polkacompute`: the command line (Typer + Rich). Every command takes --json for scripts; errors are
one line (--verbose for the trace) with exit codes from `polkacompute.errors`."""

from __future__ import annotations

import sys
from typing import Annotated

import click
import typer

from polkacompute.cli.accounts import account_app
from polkacompute.cli.common import STATE, err_console
from polkacompute.cli.devnet import devnet_app
from polkacompute.cli.indexing import dashboard_cmd, index_cmd
from polkacompute.cli.jobs import job_app
from polkacompute.cli.networks import deploy_cmd, network_app
from polkacompute.cli.packaging import pack_cmd, run_cmd, runtime_app
from polkacompute.cli.providers import escrow_app, provider_app
from polkacompute.cli.workers import gateway_app, worker_app
from polkacompute.errors import PolkaComputeError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Verifiable off-chain compute for Polkadot.")
for sub, name in ((network_app, "network"), (account_app, "account"), (devnet_app, "devnet"), (job_app, "job"),
                  (provider_app, "provider"), (escrow_app, "escrow"), (runtime_app, "runtime"), (worker_app, "worker"),
                  (gateway_app, "gateway")):  # fmt: skip
    app.add_typer(sub, name=name)
app.command("deploy")(deploy_cmd)
app.command("index")(index_cmd)
app.command("dashboard")(dashboard_cmd)
job_app.command("pack")(pack_cmd)
job_app.command("run")(run_cmd)


@app.callback()
def main_options(
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors.")] = False,
) -> None:
    STATE["json"], STATE["verbose"] = json_output, verbose


def main() -> None:
    """Entry point: one readable line per error, the traceback with --verbose, typed exit codes."""
    try:
        app(standalone_mode=False)
    except PolkaComputeError as exc:
        if STATE["verbose"]:
            err_console.print_exception()
        err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (typer.Abort, click.exceptions.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:  # usage errors
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:  # the unexpected: still one line unless --verbose
        if STATE["verbose"]:
            raise
        err_console.print(f"[red]error:[/] {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
