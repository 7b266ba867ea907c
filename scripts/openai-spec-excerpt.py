#!/usr/bin/env python3
"""Writes tests/fixtures/openai/create-chat-completion.json: the create-chat-completion
operation of OpenAI's own OpenAPI document (openai/openai-openapi), unchanged, with the
component schemas it refers to. The e2e fake OpenAI validates every request against it, and
the answers it gives against the response schema.

Usage: scripts/openai-spec-excerpt.py PATH/TO/openai_openapi.json
"""
import json
import sys

spec = json.load(open(sys.argv[1]))
path = "/chat/completions"
op = spec["paths"][path]["post"]
out = {
    "_about": "An excerpt of OpenAI's own OpenAPI document (openai/openai-openapi, spec 2.3.0, as in ../shared/fixtures/provider-specs/): the create-chat-completion operation's request and response schemas, unchanged. Made with scripts/openai-spec-excerpt.py; the e2e fake OpenAI validates every request against it.",
    "path": "/v1" + path,
    "requestBody": op["requestBody"],
    "responses": {"200": op["responses"]["200"]},
}


def refs(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.split("/")[-1])
            else:
                refs(value, found)
    elif isinstance(node, list):
        for value in node:
            refs(value, found)


schemas, todo = {}, set()
refs(out, todo)
while todo:
    name = todo.pop()
    if name not in schemas:
        schemas[name] = spec["components"]["schemas"][name]
        more = set()
        refs(schemas[name], more)
        todo |= more - set(schemas)
out["components"] = {"schemas": schemas}
json.dump(out, open("tests/fixtures/openai/create-chat-completion.json", "w"), indent=1)
