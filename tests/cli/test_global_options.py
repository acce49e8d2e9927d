"""--json, --verbose and --wide: accepted by every command, before or after the subcommand, one
implementation (`polkacompute.cli.common.global_params`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from polkacompute.cli.app import COMMANDS, cli
from polkacompute.cli.common import global_params
from polkacompute.runtimes import NAMES

from .conftest import Ran

Cli = Callable[..., Ran]


def leaves(command: Any, path: str = "polkacompute") -> list[tuple[str, Any]]:
    subs = getattr(command, "commands", None)
    if subs is None:
        return [(path, command)]
    found = [(path, command)]
    for name, sub in subs.items():
        found += leaves(sub, f"{path} {name}")
    return found


def test_every_command_takes_the_global_options() -> None:
    from typer._click.core import Context

    ctx = Context(cli)
    for name in COMMANDS:
        cli.get_command(ctx, name)  # loads it, as running it would
    commands = leaves(cli)
    assert len(commands) > 40
    shared = set(global_params())
    for path, command in commands:
        options = {opt for p in command.params for opt in getattr(p, "opts", [])}
        assert {"--json", "--verbose", "-v", "--wide"} <= options, path
        assert shared <= set(command.params), path  # the same objects: one implementation


def test_json_before_or_after_the_subcommand(cli: Cli) -> None:
    first, last, middle = cli("--json", "network", "list"), cli("network", "list", "--json"), cli("network", "--json",
                                                                                                    "list")  # fmt: skip
    assert first.code == last.code == middle.code == 0
    assert first.json() == last.json() == middle.json()
    assert {n["name"] for n in first.json()} >= {"local", "hub-testnet"}
    assert not cli("network", "list").stdout.lstrip().startswith("[")  # and off again for the next call


def test_wide_tables_show_values_whole(cli: Cli) -> None:
    wide = cli("runtime", "list", "--wide")
    assert wide.code == 0
    rows = {line.split("│")[1].strip(): line for line in wide.stdout.splitlines() if line.count("│") >= 3}
    for name, runtime in ((r["runtime"], r) for r in cli("runtime", "list", "--json").json()):
        if runtime["identity"]:
            assert runtime["identity"] in rows[name]  # on its row's one line
    assert "…" not in wide.stdout


def test_runtime_names_match_the_package() -> None:
    from polkacompute.cli import packaging

    assert packaging.NAMES == NAMES  # kept beside the CLI so that `--help` does not import wasmtime


def test_gateway_defaults_match_the_upload_policy() -> None:
    from polkacompute.cli import workers
    from polkacompute.store.uploads import MAX_UPLOAD, QUOTA

    assert (workers.MAX_UPLOAD_MB << 20, workers.QUOTA_MB << 20) == (MAX_UPLOAD, QUOTA)
