"""Stripe's form encoding: ``a[b]=c`` nested hashes, ``a[]=x`` and ``a[0]=x`` arrays."""

from __future__ import annotations

import re
from typing import Any

from ._errors import invalid, unknown_param

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART_RE = re.compile(r"\[([^\[\]]*)\]")
_INT_RE = re.compile(r"^-?\d+$")

# Parameters of every route (expand) and of every list route.
EXPAND: dict[str, Any] = {"expand": ["str"]}
LIST: dict[str, Any] = {
    "limit": "int",
    "starting_after": "str",
    "ending_before": "str",
    "created": "any",
    **EXPAND,
}


def _split(key: str) -> list[str]:
    m = _KEY_RE.match(key)
    if not m:
        return [key]
    return [m.group(1), *_PART_RE.findall(m.group(2))]


def parse_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Turn decoded ``(key, value)`` pairs into nested dicts/lists of strings."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _split(key)
        node: dict[str, Any] = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":  # "a[]": append
                part = str(sum(1 for k in node if k.isdigit()))
            if last:
                if isinstance(node.get(part), dict):
                    raise invalid(f"Invalid value for {key}: expected a hash or an array.", param=key)
                node[part] = value
            else:
                child = node.get(part)
                if child is None:
                    child = node[part] = {}
                elif not isinstance(child, dict):
                    raise invalid(
                        f"Invalid hash for {key}: the parameter was also sent as a string.", param=key
                    )
                node = child
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


# --- validation ---------------------------------------------------------------------------------
# A spec is: "str" | "int" | "bool" | "metadata" | "any" | ("enum", {...}) | [item_spec] | {field: spec}


def validate(params: dict[str, Any], spec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if key not in spec:
            raise unknown_param(name)
        out[key] = _coerce(value, spec[key], name)
    return out


def _coerce(value: Any, spec: Any, name: str) -> Any:
    if spec == "any":
        return value
    if isinstance(spec, dict):
        if value == "":
            return None
        if not isinstance(value, dict):
            raise invalid(f"Invalid object: {name} must be a hash.", param=name)
        return validate(value, spec, name)
    if isinstance(spec, list):
        if value == "":
            return []
        if isinstance(value, dict):
            raise invalid(f"Invalid array: {name} must be an array.", param=name)
        if not isinstance(value, list):
            raise invalid(f"Invalid array: {name} must be an array.", param=name)
        return [_coerce(v, spec[0], f"{name}[{i}]") for i, v in enumerate(value)]
    if spec == "metadata":
        if value == "":
            return {}  # unset all keys
        if not isinstance(value, dict):
            raise invalid("Invalid object: metadata must be a hash.", param=name)
        if len(value) > 50:
            raise invalid("Metadata can have at most 50 keys.", param=name)
        for k, v in value.items():
            if not isinstance(v, str):
                raise invalid(f"Invalid value for {name}[{k}]: must be a string.", param=f"{name}[{k}]")
            if len(k) > 40:
                raise invalid(f"Metadata keys must be at most 40 characters: {k}.", param=f"{name}[{k}]")
            if len(v) > 500:
                raise invalid(f"Metadata values must be at most 500 characters ({k}).", param=f"{name}[{k}]")
        return value
    if isinstance(value, (dict, list)):
        raise invalid(f"Invalid {name}: expected a scalar value, got a hash or array.", param=name)
    if spec == "str":
        return value
    if spec == "int":
        if value == "":
            return None
        if not _INT_RE.match(value.strip()):
            raise invalid(f"Invalid integer: {value}", param=name, code="parameter_invalid_integer")
        return int(value)
    if spec == "bool":
        if value in ("true", "True", "1"):
            return True
        if value in ("false", "False", "0"):
            return False
        if value == "":
            return None
        raise invalid(f"Invalid boolean: {value}", param=name)
    if isinstance(spec, tuple) and spec[0] == "enum":
        if value == "" and "" not in spec[1]:
            return None
        if value not in spec[1]:
            choices = ", ".join(sorted(v for v in spec[1] if v))
            raise invalid(f"Invalid {name}: must be one of {choices}", param=name)
        return value
    raise AssertionError(f"bad spec {spec!r}")  # pragma: no cover


def enum(*values: str) -> tuple[str, frozenset[str]]:
    return ("enum", frozenset(values))
