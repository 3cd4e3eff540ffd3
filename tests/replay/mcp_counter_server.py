"""A stdio MCP server (mcp 1.x and 2.x) whose one tool has a side effect: it adds to the number in
$COUNTER_FILE. A replay that asks it shows in that file."""

from __future__ import annotations

import os
from pathlib import Path

try:
    from mcp.server.mcpserver import MCPServer as Server  # mcp 2.x
except ImportError:
    from mcp.server.fastmcp import FastMCP as Server  # type: ignore[no-redef]  # mcp 1.x

server = Server("counter")


@server.tool()
def count(step: int) -> dict[str, int]:
    path = Path(os.environ["COUNTER_FILE"])
    value = (int(path.read_text()) if path.exists() else 0) + step
    path.write_text(str(value))
    return {"count": value}


if __name__ == "__main__":
    server.run("stdio")
