"""Pydantic AI with a tool: `python pydantic_ai_agent.py json|sse [instrumented]`.

`instrumented` turns on Pydantic AI's own OpenTelemetry instrumentation (`Agent.instrument_all()`).
"""

import asyncio
import os
import sys

from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scenario_server import MODEL, QUESTION
from scenario_server import get_weather as weather


async def main(stream: bool) -> None:
    provider = OpenAIProvider(base_url=os.environ["SCENARIO_BASE_URL"], api_key="test")
    agent = Agent(OpenAIChatModel(MODEL, provider=provider), instructions="Answer with the weather.")

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """The weather in a city."""
        result = weather(city)
        print(f"tool get_weather({city}) -> {result}")
        return result

    if stream:
        async with agent.run_stream(QUESTION) as run:
            output = await run.get_output()
            usage = run.usage
    else:
        result = await agent.run(QUESTION)
        output, usage = result.output, result.usage
    print("answer:", output)
    print("tokens:", usage.input_tokens, usage.output_tokens)


if __name__ == "__main__":
    if "instrumented" in sys.argv[2:]:
        Agent.instrument_all()
    asyncio.run(main(sys.argv[1] == "sse"))
