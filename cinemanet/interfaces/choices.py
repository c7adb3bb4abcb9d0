"""Command-line choices that come from a plug-in registry, read only when they are needed
(validating the option or printing that command's help), so start-up stays cheap."""

from __future__ import annotations

import importlib


def registry_at(where: str):
    """The :class:`~cinemanet.plugins.Registry` at ``module:attr``."""
    mod, attr = where.split(":")
    return getattr(importlib.import_module(mod), attr)


def with_registry_choices(**options: str) -> type:
    """A Typer command class whose options ``name=module:attr`` list that registry's names
    (with each one's summary) in ``--help``:
    ``@app.command(cls=with_registry_choices(detector="...:DETECTORS"))``."""
    from typer.core import TyperCommand

    class RegistryCommand(TyperCommand):
        def format_help(self, ctx, formatter) -> None:
            for p in self.params:
                if p.name in options and not getattr(p, "_choices_added", False):
                    reg = registry_at(options[p.name])
                    listed = "; ".join(f"{n}: {reg.describe(n)}" if reg.describe(n) else n for n in reg)
                    p.help = f"{p.help or ''} Choices: {listed}.".strip()
                    p._choices_added = True
            super().format_help(ctx, formatter)

    return RegistryCommand
