"""Function calling for every reply backend: ``@tool``, the registry and plugin loading."""

from helpers.tools.context import ToolContext
from helpers.tools.registry import (
    DEFAULT_MAX_TOOL_ROUNDS,
    Tool,
    ToolCall,
    ToolRegistry,
    ToolResult,
    ToolRounds,
    get_tool,
    refuse_all,
    tool,
)

__all__ = [
    "DEFAULT_MAX_TOOL_ROUNDS",
    "Tool",
    "ToolCall",
    "ToolContext",
    "ToolRegistry",
    "ToolResult",
    "ToolRounds",
    "get_tool",
    "refuse_all",
    "tool",
]
