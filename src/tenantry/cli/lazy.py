"""Command groups of `tenantry` loaded by name, on demand: the one place the CLI imports lazily.

A command module pulls in what its commands need (the models, the services, PostgreSQL's
driver, for some the API's response schemas or PDF fonts): importing every module at start-up
cost each run of `tenantry` a couple of seconds, whatever it ran. The root command instead
knows its subcommands as `"module:attribute"` names and imports a module when the command line
asks for one of its commands. A Typer app at that name becomes a group, a function a command,
built with the root app's settings exactly as `add_typer`/`command` would have built them.

`LazyCommands` is the root group's table of subcommands. It is a mapping like the one Typer
fills, so Click resolves, lists and suggests names through it unchanged: looking a name up
loads that one module; walking the values (`tenantry --help`, the test that checks every option)
loads them all. Nothing else in the CLI imports lazily.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, MutableMapping

import typer
from typer._click.core import Command

__all__ = ["LazyCommands", "load_target"]


def load_target(app: typer.Typer, name: str, target: str) -> Command:
    """The Click command for `target` ("package.module:attribute") registered as `name` on
    `app`: the same command `app.add_typer(...)` or `app.command(name)(...)` would make."""
    module, _, attribute = target.partition(":")
    obj = getattr(importlib.import_module(module), attribute)
    # A holder with the root's settings: Typer hands them down to what it registers.
    holder = typer.Typer(
        rich_markup_mode=app.rich_markup_mode,
        pretty_exceptions_short=app.pretty_exceptions_short,
        suggest_commands=app.suggest_commands,
        add_completion=False,
    )
    if isinstance(obj, typer.Typer):
        holder.add_typer(obj, name=name)
    else:
        holder.command(name)(obj)
    return typer.main.get_group(holder).commands[name]


class LazyCommands(MutableMapping[str, Command]):
    """Subcommands by name, in order: those already built, then those named by target; a
    target is loaded (and passed to `prepare`) the first time its name is looked up."""

    def __init__(
        self,
        built: MutableMapping[str, Command],
        targets: dict[str, str],
        load: Callable[[str, str], Command],
        prepare: Callable[[Command], None],
    ) -> None:
        self._built = dict(built)
        self._targets = {n: t for n, t in targets.items() if n not in self._built}
        self._order = [*self._built, *self._targets]
        self._load = load
        self._prepare = prepare

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            target = self._targets.pop(name)  # KeyError for a name nobody registered
            command = self._load(name, target)
            self._prepare(command)
            self._built[name] = command
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        if name not in self:
            self._order.append(name)
        self._targets.pop(name, None)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._targets.pop(name, None)
        self._built.pop(name, None)
        self._order.remove(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._built or name in self._targets
