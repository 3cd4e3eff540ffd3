"""LangGraph: a hand-built StateGraph, or LangChain's `create_agent`, with ChatOpenAI and a tool.

    python langgraph_agent.py graph|agent json|sse [invoke,ainvoke,stream,astream]

The hand-built graph: `prepare` (plain Python) -> `agent` (ChatOpenAI with the tool bound) -> `tools`
(plain Python running the tool) -> back to `agent` until it answers -> `report` (plain Python).
`create_agent` builds its own `model` and `tools` nodes. The stream modes iterate stream_mode
"values" and keep the last state, as a user does. The entry points run one after the other (one
event loop for all: langchain-openai keeps its async HTTP client), each printing what it got.
"""

import asyncio
import os
import sys
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scenario_server import MODEL, QUESTION
from scenario_server import get_weather as weather


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return weather(city)


class State(TypedDict, total=False):
    question: str
    messages: Annotated[list[AnyMessage], add_messages]
    report: str


def _llm(stream: bool) -> ChatOpenAI:
    return ChatOpenAI(
        model=MODEL,
        base_url=os.environ["SCENARIO_BASE_URL"],
        api_key="test",
        max_retries=0,
        streaming=stream,
        stream_usage=True,
    )


def build_graph(stream: bool, asynchronous: bool) -> Any:
    llm = _llm(stream).bind_tools([get_weather])

    def prepare(state: State) -> State:
        return {"messages": [HumanMessage(state["question"])]}

    def agent(state: State) -> State:
        return {"messages": [llm.invoke(state["messages"])]}

    async def aagent(state: State) -> State:
        return {"messages": [await llm.ainvoke(state["messages"])]}

    def tools(state: State) -> State:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        return {"messages": [get_weather.invoke(call) for call in last.tool_calls]}

    def route(state: State) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else "report"

    def report(state: State) -> State:
        return {"report": str(state["messages"][-1].content)}

    graph = StateGraph(State)
    graph.add_node("prepare", prepare)
    graph.add_node("agent", aagent if asynchronous else agent)
    graph.add_node("tools", tools)
    graph.add_node("report", report)
    graph.add_edge(START, "prepare")
    graph.add_edge("prepare", "agent")
    graph.add_conditional_edges("agent", route, ["tools", "report"])
    graph.add_edge("tools", "agent")
    graph.add_edge("report", END)
    return graph.compile(name="weather_graph")


def build_agent(stream: bool) -> Any:
    from langchain.agents import create_agent

    return create_agent(_llm(stream), [get_weather], name="weather_agent")


async def run(app: Any, state: dict[str, Any], mode: str) -> dict[str, Any]:
    if mode == "invoke":
        return app.invoke(state)
    if mode == "ainvoke":
        return await app.ainvoke(state)
    states: list[dict[str, Any]] = []
    if mode == "stream":
        for chunk in app.stream(state, stream_mode="values"):
            states.append(chunk)
    else:
        async for chunk in app.astream(state, stream_mode="values"):
            states.append(chunk)
    return states[-1]  # the state after the last step


async def main(kind: str, stream: bool, modes: list[str]) -> None:
    for mode in modes:
        if kind == "graph":
            app, state = build_graph(stream, mode.startswith("a")), {"question": QUESTION}
        else:
            app, state = build_agent(stream), {"messages": [HumanMessage(QUESTION)]}
        final = await run(app, state, mode)
        messages = final["messages"]
        calls = {c["id"]: c for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
        for m in messages:
            if isinstance(m, ToolMessage):
                call = calls[m.tool_call_id]
                print(f"{mode}: tool {call['name']}({call['args']}) -> {m.content}")
        print(f"{mode}: answer:", final["report"] if kind == "graph" else messages[-1].content)
        usage = [m.usage_metadata for m in messages if isinstance(m, AIMessage) and m.usage_metadata]
        print(f"{mode}: tokens:", sum(u["input_tokens"] for u in usage), sum(u["output_tokens"] for u in usage))


if __name__ == "__main__":
    all_modes = ["invoke", "ainvoke", "stream", "astream"]
    asyncio.run(main(sys.argv[1], sys.argv[2] == "sse", sys.argv[3].split(",") if len(sys.argv) > 3 else all_modes))
