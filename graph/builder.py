"""The diagnosis graph: classify → inspect_cluster → retrieve_runbooks → analyze → critique → finalize.

The critic may send the graph back to inspect_cluster for more cluster data; the loop is
bounded by ``Context.max_loops`` and, as a backstop, by the recursion limit.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from graph.context import Context
from graph.nodes.analyze import analyze
from graph.nodes.answer_followup import answer_followup
from graph.nodes.classify import classify
from graph.nodes.critique import critique
from graph.nodes.finalize import finalize
from graph.nodes.inspect_cluster import inspect_cluster
from graph.nodes.retrieve_runbooks import retrieve_runbooks
from graph.routing import after_critique, route_start
from graph.state import InputState, OutputState, State

# Six nodes a pass, at most 1 + max_loops passes (max_loops is at most 10 in settings).
RECURSION_LIMIT = 80


def build_graph() -> StateGraph[State, Context, InputState, OutputState]:
    """The uncompiled graph (callers compile it with their own checkpointer)."""
    builder = StateGraph(State, context_schema=Context, input_schema=InputState, output_schema=OutputState)
    for node in (classify, inspect_cluster, retrieve_runbooks, analyze, critique, finalize):
        builder.add_node(node.__name__, node)  # type: ignore[call-overload]
    builder.add_node("answer_followup", answer_followup)  # type: ignore[call-overload]
    builder.add_conditional_edges(START, route_start, ["answer_followup", "classify"])
    builder.add_edge("answer_followup", END)
    builder.add_edge("classify", "inspect_cluster")
    builder.add_edge("inspect_cluster", "retrieve_runbooks")
    builder.add_edge("retrieve_runbooks", "analyze")
    builder.add_edge("analyze", "critique")
    builder.add_conditional_edges("critique", after_critique, ["inspect_cluster", "finalize"])
    builder.add_edge("finalize", END)
    return builder


# What langgraph.json and LangServe load; compiling builds no client.
graph = build_graph().compile(name="idp-diagnose")
