"""The OpenAPI 3.1 document, generated from the registered operations and their pydantic models."""
from __future__ import annotations

import re
from typing import Any

from flask import jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from mes.api import api
from mes.api.operation import MAX_ID, OPERATIONS, Operation
from mes.api.schemas import ErrorBody

PREFIX = "/api/v1"
CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
ID_SCHEMA = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
ERROR_TEXT = {400: "malformed request", 401: "not authenticated", 403: "not allowed for your role",
              404: "not found", 409: "conflicts with the record's state", 413: "body too large",
              415: "unsupported media type",
              422: "a field is invalid (named in `field`)", 503: "the database is unreachable"}


def _error_statuses(op: Operation) -> list[int]:
    statuses = [401, 403] if op.permission else []
    if op.method != "GET":
        statuses += [400, 404, 409, 413, 422] + ([] if op.permission else [401]) + ([415] if op.upload else [])
    else:
        if "<" in op.rule:
            statuses.append(404)
        if op.query:
            statuses.append(422)
    return sorted(statuses)


def _json(ref: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def build_document() -> dict[str, Any]:
    """Every route of the API with its parameters, body, answers and error answers."""
    inputs = {m for op in OPERATIONS for m in (op.body, op.query) if m is not None}
    outputs = {op.response for op in OPERATIONS} | {ErrorBody}
    keys: list[tuple[type[BaseModel], Any]] = [(m, "validation") for m in inputs] + [(m, "serialization")
                                                                                      for m in outputs]
    refs, definitions = models_json_schema(keys, ref_template="#/components/schemas/{model}")
    error = refs[(ErrorBody, "serialization")]
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        path = PREFIX + CONVERTER.sub(lambda m: "{" + m.group(2) + "}", op.rule)
        parameters = [{"name": name, "in": "path", "required": True,
                       "schema": ID_SCHEMA if conv == "int" else {"type": "string"}}
                      for conv, name in CONVERTER.findall(op.rule)]
        if op.query:
            schema = op.query.model_json_schema()
            parameters += [{"name": name, "in": "query", "required": name in schema.get("required", []),
                            "schema": prop} for name, prop in schema["properties"].items()]
        if op.method != "GET":
            parameters.append({"name": "Idempotency-Key", "in": "header", "required": False,
                               "schema": {"type": "string", "maxLength": 128},
                               "description": "a retry with the same key returns the first answer"})
        responses = {str(op.status): _json(refs[(op.response, "serialization")], "success")}
        if op.endpoint == "health":
            responses["503"] = _json(refs[(op.response, "serialization")], ERROR_TEXT[503])
        for status in _error_statuses(op):
            responses[str(status)] = _json(error, ERROR_TEXT[status])
        entry: dict[str, Any] = {"operationId": op.endpoint, "summary": op.summary, "parameters": parameters,
                                 "responses": responses}
        if op.body:
            entry["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": refs[(op.body, "validation")]}}}
        elif op.upload:
            entry["requestBody"] = {"required": True, "content": {
                media: {"schema": {"type": "string", "format": "binary"}} for media in op.upload}}
        entry["security"] = [{"bearer": []}] if op.permission else []
        if op.permission:
            entry["x-permission"] = op.permission
        paths.setdefault(path, {})[op.method.lower()] = entry
    paths[PREFIX + "/openapi.json"] = {"get": {
        "operationId": "openapi", "summary": "This document (public)", "security": [],
        "responses": {"200": _json({"type": "object"}, "the OpenAPI document")}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "satplant MES API", "version": "1",
                 "description": "Work orders, units, steps and machine runs for the satellite core-unit plant."},
        "paths": paths,
        "components": {"schemas": definitions.get("$defs", {}),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


@api.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    return jsonify(build_document())
