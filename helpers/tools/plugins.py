"""Operator tool plugins: modules named in ``TOOLS_MODULES`` whose ``@tool`` functions are added."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType

from bot.errors import ConfigError
from helpers.tools.registry import Tool, get_tool

__all__ = ["load_plugins", "tools_in"]


def load_plugins(module_names: Sequence[str]) -> list[Tool]:
    """Import each dotted module name and collect its tools; ``ConfigError`` names broken ones."""
    tools: list[Tool] = []
    problems: list[str] = []
    owner: dict[str, str] = {}
    for module_name in (name.strip() for name in module_names):
        if not module_name:
            continue
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            problems.append(f"{module_name}: cannot import ({type(exc).__name__}: {exc})")
            continue
        found = tools_in(module)
        if not found:
            problems.append(f"{module_name}: defines no @tool functions")
        for spec in found:
            if spec.name in owner:
                problems.append(
                    f"{module_name}: tool {spec.name!r} is already defined in {owner[spec.name]}"
                )
                continue
            owner[spec.name] = module_name
            tools.append(spec)
    if problems:
        raise ConfigError({"TOOLS_MODULES": "; ".join(problems)})
    return tools


def tools_in(module: ModuleType) -> list[Tool]:
    """The tools defined in ``module`` itself (not imported into it), in definition order."""
    found: list[Tool] = []
    for value in vars(module).values():
        spec = get_tool(value)
        if spec is not None and getattr(value, "__module__", None) == module.__name__:
            found.append(spec)
    return found
