"""The demo agent: a planner → executor → writer workflow on the real `openai` SDK (see agentapp/).

    agenttrace run -- python examples/demo_agent.py
    agenttrace show --last

It imports nothing of otel-agenttrace. The SDK calls are traced by the instrumentor; the nodes,
the app's own `BaseProvider.generate` and `ToolRegistry.execute` by the `[tool.agenttrace]`
targets in examples/pyproject.toml (found next to this script).

With OPENAI_API_KEY set (and AGENTTRACE_DEMO_STUB unset) it talks to OpenAI, model
AGENTTRACE_DEMO_MODEL (default gpt-4o-mini). Otherwise it starts the scripted OpenAI-compatible
stub of stub_server.py on 127.0.0.1, so it runs offline and the same way every time. The weather
service fails for one city; the executor hands that error back to the model as the tool's result.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agentapp.pipeline import main

if __name__ == "__main__":
    sys.exit(main())
