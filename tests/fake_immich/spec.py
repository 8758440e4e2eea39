"""Validate requests and responses against the real Immich OpenAPI spec (3.0) with jsonschema.

OpenAPI 3.0 schemas are JSON Schema with a few differences; the one that matters here is
``nullable: true``, turned into a union with ``null`` before validation. ``$ref``s resolve against
the spec's own components through a referencing registry.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema

REPO = Path(__file__).resolve().parents[2]


def spec_path() -> Path | None:
    env = os.environ.get("IMMICH_OPENAPI_SPEC")
    if env:
        return Path(env) if Path(env).is_file() else None
    candidate = REPO.parent / "shared" / "immich" / "immich-openapi-specs.json"
    return candidate if candidate.is_file() else None


def _convert(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _convert(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable"):
            if "type" in out:
                t = out["type"]
                out["type"] = [*t, "null"] if isinstance(t, list) else [t, "null"]
            else:
                out = {"anyOf": [out, {"type": "null"}]}
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        return out
    if isinstance(node, list):
        return [_convert(v) for v in node]
    return node


class SpecValidator:
    def __init__(self, path: Path) -> None:
        raw = json.loads(Path(path).read_text())
        self.spec = _convert(raw)
        self._validators: dict[str, jsonschema.Draft202012Validator] = {}
        self._routes: list[tuple[str, re.Pattern[str], str]] = []
        for template, ops in self.spec["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", r"([^/]+)", template) + "$")
            for method in ops:
                self._routes.append((method.upper(), pattern, template))

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        for m, pattern, template in self._routes:
            if m == method and pattern.match(path):
                # prefer the literal template over a parameterised one (/albums vs /albums/{id})
                best = [(t, p) for mm, p, t in self._routes if mm == method and p.match(path)]
                template = min(best, key=lambda tp: tp[0].count("{"))[0]
                return template, self.spec["paths"][template][method.lower()]
        return None

    def _errors(self, schema: dict[str, Any], value: Any) -> list[str]:
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            # "#/components/..." refs resolve against the document root: carry the components along.
            root = {"allOf": [schema], "components": self.spec["components"]}
            validator = jsonschema.Draft202012Validator(root)
            self._validators[key] = validator
        return [f"{'/'.join(str(p) for p in e.absolute_path) or '(body)'}: {e.message}"
                for e in validator.iter_errors(value)]

    def check_request(self, method: str, path: str, query: dict[str, str], body: Any,
                      content_type: str) -> list[str]:
        found = self.operation(method, path)
        if found is None:
            return [f"{method} {path} is not an endpoint of the Immich API"]
        template, op = found
        problems: list[str] = []
        values = dict(zip(re.findall(r"\{([^}]+)\}", template),
                          re.match("^" + re.sub(r"\{[^}]+\}", r"([^/]+)", template) + "$", path).groups(),
                          strict=True))
        for param in op.get("parameters", []):
            where, name = param["in"], param["name"]
            if where == "path":
                raw = values.get(name)
            elif where == "query":
                raw = query.get(name)
            else:
                continue
            if raw is None:
                if param.get("required"):
                    problems.append(f"missing {where} parameter {name}")
                continue
            schema = param.get("schema", {})
            value: Any = raw
            if schema.get("type") == "boolean":
                if raw not in ("true", "false"):
                    problems.append(f"{name}: {raw!r} is not a boolean")
                    continue
                value = raw == "true"
            elif schema.get("type") in ("integer", "number"):
                try:
                    value = int(raw)
                except ValueError:
                    problems.append(f"{name}: {raw!r} is not a number")
                    continue
            problems += [f"{where} {name}: {e}" for e in self._errors(schema, value)]
        known = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        problems += [f"unknown query parameter {k}" for k in query if k not in known]
        request_body = op.get("requestBody")
        if request_body:
            content = request_body.get("content", {})
            if "application/json" in content:
                if body is None and request_body.get("required"):
                    problems.append("missing JSON body")
                elif body is not None:
                    problems += self._errors(content["application/json"]["schema"], body)
            elif content_type.startswith("multipart/") and "multipart/form-data" in content:
                pass  # checked by the handler (required fields)
        elif body not in (None, b"", ""):
            problems.append(f"{method} {template} takes no body")
        return problems

    def check_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        found = self.operation(method, path)
        if found is None:
            return []
        _, op = found
        responses = op.get("responses", {})
        spec = responses.get(str(status))
        if spec is None:
            if status >= 400:
                return []  # error bodies are not described per operation in this spec
            return [f"status {status} is not a documented answer of {method} {path}"]
        schema = (spec.get("content") or {}).get("application/json", {}).get("schema")
        if schema is None:
            return []
        return self._errors(schema, body)
