"""The OpenAI Agents SDK with a function tool: `python agents_sdk.py json|sse`."""

import asyncio
import os
import sys

from agents import Agent, OpenAIResponsesModel, Runner, function_tool
from openai import AsyncOpenAI

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scenario_server import MODEL, QUESTION
from scenario_server import get_weather as weather


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    result = weather(city)
    print(f"tool get_weather({city}) -> {result}")
    return result


async def main(stream: bool) -> None:
    client = AsyncOpenAI(base_url=os.environ["SCENARIO_BASE_URL"], api_key="test", max_retries=0)
    agent = Agent(
        name="weather",
        instructions="Answer with the weather.",
        model=OpenAIResponsesModel(model=MODEL, openai_client=client),
        tools=[get_weather],
    )
    if stream:
        result = Runner.run_streamed(agent, QUESTION)
        async for _ in result.stream_events():
            pass
    else:
        result = await Runner.run(agent, QUESTION)
    print("answer:", result.final_output)
    print("tokens:", sum(r.usage.input_tokens for r in result.raw_responses))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] == "sse"))
