"""The built-in tools and the registry the bot starts with (plus operator plugins)."""

from __future__ import annotations

from bot.errors import ConfigError
from bot.settings import Settings
from helpers.tools.clock_tool import current_datetime
from helpers.tools.knowledge_tool import search_knowledge
from helpers.tools.plugins import load_plugins
from helpers.tools.registry import ToolRegistry
from helpers.tools.reminders_tool import cancel_reminder, list_reminders, set_reminder

BUILTIN_TOOLS = (current_datetime, set_reminder, list_reminders, cancel_reminder)


def build_registry(settings: Settings) -> ToolRegistry:
    """Built-in tools (minus TOOLS_DISABLED) and the tools of every TOOLS_MODULES plugin.

    Raises ``ConfigError`` naming a plugin module that cannot be loaded, a plugin tool whose
    name is taken, or a TOOLS_DISABLED name that matches no tool.
    """
    registry = ToolRegistry(disabled=settings.tools_disabled)
    registry.extend(BUILTIN_TOOLS)
    if settings.google_tools:
        from helpers.google import google_tools

        registry.extend(google_tools(settings.google_tools))
    if settings.openai_api_mode == "chat":
        # The other modes search the knowledge base with the hosted file_search tool.
        registry.add(search_knowledge)
    problems: dict[str, str] = {}
    try:
        plugins = load_plugins(settings.tools_modules)
    except ConfigError as exc:
        problems.update(exc.problems)
        plugins = []
    for plugin_tool in plugins:
        try:
            registry.add(plugin_tool)
        except ValueError as exc:
            problems["TOOLS_MODULES"] = f"{plugin_tool.fn.__module__}: {exc}"
    unknown = registry.unknown_disabled()
    if unknown:
        problems["TOOLS_DISABLED"] = (
            f"no tool named {', '.join(unknown)}; known: {', '.join(sorted(registry.all_names()))}"
            if hasattr(registry, "all_names")
            else f"no tool named {', '.join(unknown)}"
        )
    if problems:
        raise ConfigError(problems)
    return registry
