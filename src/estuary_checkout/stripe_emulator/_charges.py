"""Charges: retrieve, update, list (a PaymentIntent's confirmation creates them; refunds list theirs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._forms import EXPAND, LIST, validate
from ._params import opt

if TYPE_CHECKING:
    from ._api import Ctx, StripeAPI


class Charges:
    """The charge routes; shares the API's state, lock, rendering and events."""

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.s = api.s

    def retrieve(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self.api.output(self.api.get("ch", id, "charge"), p)

    def update(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, {"metadata": "metadata", "description": "str", "receipt_email": "str", **EXPAND})
        ch = self.api.get("ch", id, "charge")
        for field in ("description", "receipt_email"):
            if field in p:
                ch[field] = opt(p[field])
        self.api.apply_metadata(ch, p.get("metadata"))
        return self.api.output(ch, p)

    def list(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {**LIST, "customer": "str", "payment_intent": "str"})
        items = self.api.newest_first(self.s.store.charges.values())
        for f in ("customer", "payment_intent"):
            if p.get(f):
                items = [o for o in items if o[f] == p[f]]
        return self.api.paginate(items, p, "/v1/charges")
