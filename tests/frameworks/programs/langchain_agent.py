"""LangChain ChatOpenAI with a tool, the loop a user writes: `python langchain_agent.py json|sse`."""

import os
import sys

from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scenario_server import MODEL, QUESTION
from scenario_server import get_weather as weather


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return weather(city)


def main(stream: bool) -> None:
    llm = ChatOpenAI(
        model=MODEL, base_url=os.environ["SCENARIO_BASE_URL"], api_key="test", max_retries=0, stream_usage=True
    ).bind_tools([get_weather])
    messages: list = [HumanMessage(QUESTION)]
    for _ in range(5):
        if stream:
            reply: AIMessageChunk | None = None
            for chunk in llm.stream(messages):
                reply = chunk if reply is None else reply + chunk
            assert reply is not None
        else:
            reply = llm.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            print("answer:", reply.content)
            print("tokens:", reply.usage_metadata["input_tokens"] if reply.usage_metadata else None)
            return
        for call in reply.tool_calls:
            result: ToolMessage = get_weather.invoke(call)
            print(f"tool {call['name']}({call['args']}) -> {result.content}")
            messages.append(result)


if __name__ == "__main__":
    main(sys.argv[1] == "sse")
