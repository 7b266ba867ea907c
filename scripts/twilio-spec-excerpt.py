#!/usr/bin/env python3
"""Writes tests/fixtures/twilio/create-message.json: the create-message operation of Twilio's
own OpenAPI document (twilio/twilio-oai spec/json/twilio_api_v2010.json), unchanged, with the
component schemas it refers to. The e2e fake Twilio validates every request against it.

Usage: scripts/twilio-spec-excerpt.py PATH/TO/twilio_api_v2010.json
"""
import json
import sys

spec = json.load(open(sys.argv[1]))
path = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
op = spec["paths"][path]["post"]
out = {
    "_about": "An excerpt of Twilio's own OpenAPI document (twilio/twilio-oai spec/json/twilio_api_v2010.json, as in ../shared/fixtures/provider-specs/): the create-message operation, unchanged. Made with scripts/twilio-spec-excerpt.py; the e2e fake Twilio validates every request against it.",
    "path": path,
    "parameters": spec["paths"][path].get("parameters", []) + op.get("parameters", []),
    "requestBody": op["requestBody"],
    "responses": {"201": op["responses"]["201"]},
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
json.dump(out, open("tests/fixtures/twilio/create-message.json", "w"), indent=1)
