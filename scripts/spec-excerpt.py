#!/usr/bin/env python3
"""Writes a provider's spec excerpt for the e2e fakes: one operation of the provider's own
OpenAPI document, unchanged, with the component schemas it refers to. The fake validates
every request against it (the OpenAI fake its own answers too).

Usage:
  scripts/spec-excerpt.py twilio PATH/TO/twilio_api_v2010.json  # tests/fixtures/twilio/create-message.json
  scripts/spec-excerpt.py openai PATH/TO/openai_openapi.json    # tests/fixtures/openai/create-chat-completion.json
"""
import json
import sys

PROVIDERS = {
    "twilio": {
        "path": "/2010-04-01/Accounts/{AccountSid}/Messages.json",
        "served_at": "",
        "responses": ["201"],
        "out": "tests/fixtures/twilio/create-message.json",
        "about": "An excerpt of Twilio's own OpenAPI document (twilio/twilio-oai spec/json/twilio_api_v2010.json, as in ../shared/fixtures/provider-specs/): the create-message operation, unchanged. Made with scripts/spec-excerpt.py; the e2e fake Twilio validates every request against it.",
    },
    "openai": {
        "path": "/chat/completions",
        "served_at": "/v1",
        "responses": ["200"],
        "out": "tests/fixtures/openai/create-chat-completion.json",
        "about": "An excerpt of OpenAI's own OpenAPI document (openai/openai-openapi, spec 2.3.0, as in ../shared/fixtures/provider-specs/): the create-chat-completion operation's request and response schemas, unchanged. Made with scripts/spec-excerpt.py; the e2e fake OpenAI validates every request against it.",
    },
}

provider = PROVIDERS[sys.argv[1]]
spec = json.load(open(sys.argv[2]))
path = provider["path"]
op = spec["paths"][path]["post"]
out = {
    "_about": provider["about"],
    "path": provider["served_at"] + path,
    "parameters": spec["paths"][path].get("parameters", []) + op.get("parameters", []),
    "requestBody": op["requestBody"],
    "responses": {status: op["responses"][status] for status in provider["responses"]},
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
out["components"] = {"schemas": dict(sorted(schemas.items()))}
json.dump(out, open(provider["out"], "w"), indent=1)
