"""Events (retrieve, list) and the webhook endpoints they are delivered to (create, retrieve, update,
delete, list). Recording and delivering events is ``EmulatorState``'s work."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ._errors import invalid, missing_param
from ._forms import EXPAND, LIST, validate
from ._params import opt

if TYPE_CHECKING:
    from ._api import Ctx, StripeAPI

WE_CREATE = {
    "url": "str",
    "enabled_events": ["str"],
    "description": "str",
    "metadata": "metadata",
    "api_version": "str",
    "connect": "bool",
    **EXPAND,
}
WE_UPDATE = {
    "url": "str",
    "enabled_events": ["str"],
    "description": "str",
    "metadata": "metadata",
    "disabled": "bool",
    **EXPAND,
}


class Events:
    """The event routes."""

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.s = api.s

    def retrieve(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self.api.output(self.api.get("evt", id, "id"), p)

    def list(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {**LIST, "type": "str", "types": ["str"], "delivery_success": "bool"})
        if p.get("type") and p.get("types"):
            raise invalid("You may only specify one of these parameters: type, types.")
        patterns = p.get("types") or ([p["type"]] if p.get("type") else [])
        items = self.api.newest_first(self.s.store.events.values())
        if patterns:
            items = [e for e in items if any(self._type_matches(pat, e["type"]) for pat in patterns)]
        if p.get("delivery_success") is not None:
            want = p["delivery_success"]
            items = [e for e in items if (e["pending_webhooks"] == 0) == want]
        return self.api.paginate(items, p, "/v1/events")

    @staticmethod
    def _type_matches(pattern: str, type_: str) -> bool:
        if pattern.endswith("*"):
            return type_.startswith(pattern[:-1])
        return pattern == type_


class WebhookEndpoints:
    """The webhook endpoint routes (the control route ``/_emulator/webhook_endpoints`` is ``app.py``'s)."""

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.s = api.s

    @staticmethod
    def _check_enabled_events(events: list[str]) -> None:
        for ev in events:
            if ev != "*" and not re.match(r"^[a-z_]+(\.[a-z_]+)+$", ev):
                raise invalid(f"Invalid event type: {ev}", param="enabled_events")

    def create(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, WE_CREATE)
        if not p.get("url"):
            raise missing_param("url")
        if not re.match(r"^https?://", p["url"]):
            raise invalid(
                f"Invalid URL: {p['url']}. URLs must begin with http:// or https://",
                param="url",
                code="url_invalid",
            )
        if not p.get("enabled_events"):
            raise missing_param("enabled_events")
        self._check_enabled_events(p["enabled_events"])
        ep = self.s.add_webhook_endpoint(
            p["url"],
            enabled_events=p["enabled_events"],
            description=opt(p.get("description")),
            metadata=p.get("metadata"),
            api_version=opt(p.get("api_version")),
        )
        return ep  # the only response that includes `secret`

    def _public(self, ep: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
        out = self.api.output(ep, p)
        out.pop("secret", None)
        return out

    def retrieve(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self._public(self.api.get("we", id, "webhook_endpoint"), p)

    def update(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, WE_UPDATE)
        ep = self.api.get("we", id, "webhook_endpoint")
        if p.get("url"):
            ep["url"] = p["url"]
        if p.get("enabled_events"):
            self._check_enabled_events(p["enabled_events"])
            ep["enabled_events"] = p["enabled_events"]
        if "description" in p:
            ep["description"] = opt(p["description"])
        if p.get("disabled") is not None:
            ep["status"] = "disabled" if p["disabled"] else "enabled"
        self.api.apply_metadata(ep, p.get("metadata"))
        return self._public(ep, p)

    def delete(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        validate(params, {})
        self.api.get("we", id, "webhook_endpoint")
        del self.s.store.webhook_endpoints[id]
        return {"id": id, "object": "webhook_endpoint", "deleted": True}

    def list(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, LIST)
        items = self.api.newest_first(self.s.store.webhook_endpoints.values())
        result = self.api.paginate(items, p, "/v1/webhook_endpoints")
        for ep in result["data"]:
            ep.pop("secret", None)
        return result
