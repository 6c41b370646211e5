"""Products (create, retrieve, update, delete, list) and Prices (create, retrieve, update, list).

A Price is per unit, in one currency, one-time or recurring (``day|week|month|year`` times
``interval_count``, up to three years). Its currency and amount follow the same currency registry
as PaymentIntents (``_money``), except that a price may be 0 and has no minimum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _billing_objects as billing
from ._errors import StripeError, invalid, missing_param
from ._forms import EXPAND, LIST, enum, validate
from ._money import check_currency, check_unit_amount
from ._params import opt
from .state import now

if TYPE_CHECKING:
    from ._api import Ctx, StripeAPI

INTERVALS = enum("day", "week", "month", "year")
TAX_BEHAVIOR = enum("exclusive", "inclusive", "unspecified")
# The longest billing interval Stripe allows: three years.
MAX_INTERVAL_COUNT = {"day": 1095, "week": 156, "month": 36, "year": 3}
RECURRING = {
    "interval": INTERVALS,
    "interval_count": "int",
    "trial_period_days": "int",
    "usage_type": enum("licensed"),
}
PRICE_DATA = {
    "currency": "str",
    "unit_amount": "int",
    "recurring": RECURRING,
    "metadata": "metadata",
    "tax_behavior": TAX_BEHAVIOR,
}
PRODUCT_UPDATE = {
    "name": "str",
    "active": "bool",
    "description": "str",
    "default_price": "str",
    "images": ["str"],
    "marketing_features": [{"name": "str"}],
    "metadata": "metadata",
    "shippable": "bool",
    "statement_descriptor": "str",
    "tax_code": "str",
    "unit_label": "str",
    "url": "str",
    **EXPAND,
}
PRODUCT_CREATE = {
    **{k: v for k, v in PRODUCT_UPDATE.items() if k != "default_price"},
    "id": "str",
    "type": enum("good", "service"),
    "default_price_data": PRICE_DATA,
}
PRODUCT_DATA = {
    k: PRODUCT_CREATE[k]
    for k in ("name", "active", "metadata", "statement_descriptor", "tax_code", "unit_label")
}
PRICE_UPDATE = {
    "active": "bool",
    "metadata": "metadata",
    "nickname": "str",
    "lookup_key": "str",
    "transfer_lookup_key": "bool",
    "tax_behavior": TAX_BEHAVIOR,
    **EXPAND,
}
PRICE_CREATE = {
    **PRICE_DATA,
    **PRICE_UPDATE,
    "product": "str",
    "product_data": PRODUCT_DATA,
    "billing_scheme": enum("per_unit"),
}


def no_unset(name: str) -> StripeError:
    return invalid(
        f"You passed an empty string for '{name}'. We assume empty values are an attempt to unset a "
        f"parameter; however '{name}' cannot be unset. You should remove '{name}' from your request or "
        "supply a non-empty value.",
        param=name,
    )


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in before.items() if after.get(k) != v}


class Products:
    """The product routes; shares the API's state, lock, rendering and events."""

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.s = api.s

    def create(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, PRODUCT_CREATE)
        if p.get("default_price_data"):
            self.api.prices.check(dict(p["default_price_data"]))
        prod = self.new(ctx, p, "")
        if p.get("default_price_data"):
            pr = self.api.prices.new(
                ctx, {**p["default_price_data"], "product": prod["id"]}, prod, emit=False
            )
            prod["default_price"] = pr["id"]
            self.api.emit(ctx, "product.created", prod)
            self.api.emit(ctx, "price.created", pr)
        else:
            self.api.emit(ctx, "product.created", prod)
        return self.api.output(prod, p)

    def new(self, ctx: Ctx, p: dict[str, Any], prefix: str) -> dict[str, Any]:
        """Store a product built from create parameters (``prefix``: ``product_data`` when nested);
        the caller emits ``product.created``."""
        if not p.get("name"):
            raise missing_param(f"{prefix}[name]" if prefix else "name")
        if p.get("id") and p["id"] in self.s.store.products:
            raise invalid("Product already exists.", param="id", code="resource_already_exists")
        prod = billing.product(p)
        self.api.apply_metadata(prod, p.get("metadata"))
        self.s.store.products[prod["id"]] = prod
        return prod

    def retrieve(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self.api.output(self.api.get("prod", id), p)

    def update(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, PRODUCT_UPDATE)
        prod = self.api.get("prod", id)
        if "name" in p and not p["name"]:
            raise no_unset("name")
        if p.get("default_price"):
            pr = self.api.get("price", p["default_price"], "default_price", status=400)
            if pr["product"] != prod["id"]:
                raise invalid(
                    f"The price `{pr['id']}` does not belong to the product `{prod['id']}`.",
                    param="default_price",
                )
            if not pr["active"]:
                raise invalid("The default price of a product must be active.", param="default_price")
        before = self.api.render(prod)
        for field in (
            "name",
            "description",
            "default_price",
            "statement_descriptor",
            "tax_code",
            "unit_label",
            "url",
        ):
            if field in p:
                prod[field] = opt(p[field])
        for field in ("active", "shippable"):
            if p.get(field) is not None:
                prod[field] = p[field]
        if "images" in p:
            prod["images"] = p["images"]
        if "marketing_features" in p:
            prod["marketing_features"] = [{"name": f.get("name")} for f in p["marketing_features"]]
        self.api.apply_metadata(prod, p.get("metadata"))
        previous = _changes(before, self.api.render(prod))
        if previous:
            prod["updated"] = max(now(), prod["updated"])
            self.api.emit(ctx, "product.updated", prod, previous)
        return self.api.output(prod, p)

    def delete(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        validate(params, {})
        prod = self.api.get("prod", id)
        if any(pr["product"] == id for pr in self.s.store.prices.values()):
            raise invalid(
                "This product cannot be deleted because it has one or more user-created prices.", save=True
            )
        snapshot = self.api.render(prod)
        prod["deleted"] = True
        self.s.emit(
            "product.deleted", snapshot, request_id=ctx.request_id, idempotency_key=ctx.idempotency_key
        )
        return {"id": id, "object": "product", "deleted": True}

    def list(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {**LIST, "active": "bool", "ids": ["str"], "shippable": "bool", "url": "str"})
        items = [o for o in self.api.newest_first(self.s.store.products.values()) if not o.get("deleted")]
        for f in ("active", "shippable"):
            if p.get(f) is not None:
                items = [o for o in items if o[f] == p[f]]
        if p.get("ids"):
            items = [o for o in items if o["id"] in p["ids"]]
        if p.get("url"):
            items = [o for o in items if o["url"] == p["url"]]
        return self.api.paginate(items, p, "/v1/products")


class Prices:
    """The price routes; shares the API's state, lock, rendering and events."""

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.s = api.s

    def create(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, PRICE_CREATE)
        if p.get("product") and p.get("product_data"):
            raise invalid("You may only specify one of these parameters: product, product_data.")
        check_currency(p.get("currency"))
        if p.get("product_data"):
            self.check(p)
            prod = self.api.products.new(ctx, p["product_data"], "product_data")
            self.api.emit(ctx, "product.created", prod)
        elif p.get("product"):
            prod = self.api.get("prod", p["product"], "product", status=400)
        else:
            raise missing_param("product")
        pr = self.new(ctx, p, prod)
        return self.api.output(pr, p)

    def check(self, p: dict[str, Any]) -> None:
        p["currency"] = check_currency(p.get("currency"))
        recurring = p.get("recurring")
        if recurring is not None:
            if not recurring.get("interval"):
                raise missing_param("recurring[interval]")
            count = recurring.get("interval_count")
            if count is not None and not 1 <= count <= MAX_INTERVAL_COUNT[recurring["interval"]]:
                raise invalid(
                    "The maximum billing interval is 3 years (36 months, 156 weeks or 1095 days), the "
                    "minimum 1.",
                    param="recurring[interval_count]",
                )
            days = recurring.get("trial_period_days")
            if days is not None and not 0 <= days <= 730:
                raise invalid(
                    "Trial period days must be between 0 and 730.", param="recurring[trial_period_days]"
                )
        check_unit_amount(p.get("unit_amount"), p["currency"])

    def new(self, ctx: Ctx, p: dict[str, Any], prod: dict[str, Any], *, emit: bool = True) -> dict[str, Any]:
        """Store a price of ``prod`` built from create parameters (checked here)."""
        self.check(p)
        self._claim_lookup_key(p.get("lookup_key"), p.get("transfer_lookup_key"), ctx)
        pr = billing.price(p, prod["id"])
        self.api.apply_metadata(pr, p.get("metadata"))
        self.s.store.prices[pr["id"]] = pr
        if emit:
            self.api.emit(ctx, "price.created", pr)
        return pr

    def _claim_lookup_key(self, key: str | None, transfer: bool | None, ctx: Ctx | None) -> None:
        if not key:
            return
        for other in self.s.store.prices.values():
            if other["lookup_key"] == key:
                if not transfer:
                    raise invalid(
                        f"A price (`{other['id']}`) already uses that lookup key.", param="lookup_key"
                    )
                other["lookup_key"] = None
                self.api.emit(ctx, "price.updated", other, {"lookup_key": key})

    def retrieve(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self.api.output(self.api.get("price", id), p)

    def update(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, PRICE_UPDATE)
        pr = self.api.get("price", id)
        before = self.api.render(pr)
        if p.get("lookup_key") and p["lookup_key"] != pr["lookup_key"]:
            self._claim_lookup_key(p["lookup_key"], p.get("transfer_lookup_key"), ctx)
        for field in ("nickname", "lookup_key"):
            if field in p:
                pr[field] = opt(p[field])
        if p.get("active") is not None:
            pr["active"] = p["active"]
        if p.get("tax_behavior"):
            pr["tax_behavior"] = p["tax_behavior"]
        self.api.apply_metadata(pr, p.get("metadata"))
        previous = _changes(before, self.api.render(pr))
        if previous:
            self.api.emit(ctx, "price.updated", pr, previous)
        return self.api.output(pr, p)

    def list(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(
            params,
            {
                **LIST,
                "active": "bool",
                "currency": "str",
                "product": "str",
                "type": enum("one_time", "recurring"),
                "recurring": {"interval": INTERVALS, "usage_type": enum("licensed", "metered")},
                "lookup_keys": ["str"],
            },
        )
        items = self.api.newest_first(self.s.store.prices.values())
        if p.get("active") is not None:
            items = [o for o in items if o["active"] == p["active"]]
        for f in ("currency", "product", "type"):
            if p.get(f):
                want = p[f].lower() if f == "currency" else p[f]
                items = [o for o in items if o[f] == want]
        recurring = p.get("recurring") or {}
        if recurring.get("interval"):
            items = [o for o in items if (o["recurring"] or {}).get("interval") == recurring["interval"]]
        if recurring.get("usage_type"):
            items = [o for o in items if (o["recurring"] or {}).get("usage_type") == recurring["usage_type"]]
        if p.get("lookup_keys"):
            items = [o for o in items if o["lookup_key"] in p["lookup_keys"]]
        return self.api.paginate(items, p, "/v1/prices")
