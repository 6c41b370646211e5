"""Validate a checkout request against the catalog and price it. Reads only; used by
calculate-price (nothing written) and by create (which then holds what was priced)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from estuary_checkout.catalog import availability
from estuary_checkout.catalog import repository as catalog_repo
from estuary_checkout.catalog import service as catalog_service
from estuary_checkout.catalog.models import Practitioner, Service
from estuary_checkout.config import Settings
from estuary_checkout.coupons import service as coupons_service
from estuary_checkout.coupons.models import Coupon
from estuary_checkout.credits import service as credits_service
from estuary_checkout.db.session import SessionOrConnection, orm_session
from estuary_checkout.orders.errors import (
    CheckoutTypeMismatch,
    CurrencyNotOffered,
    InvalidChildSelection,
    InvalidDuration,
    PractitionerMismatch,
    QuantityOutOfRange,
    ServiceNotFound,
    ServiceNotPurchasable,
    TimesRequired,
)
from estuary_checkout.orders.schemas import CheckoutItem, CheckoutRequest, ChildLine, LineBreakdown
from estuary_checkout.passes import service as passes_service
from estuary_checkout.pricing import service as pricing
from estuary_checkout.users.models import User

SERVICE_TYPE = {"single_session": "session", "bundle": "bundle", "package": "package"}


@dataclass
class CartLine:
    line_no: int
    service: Service
    practitioner: Practitioner
    quantity: int
    unit_price_cents: int
    line_total_cents: int
    start_at: datetime | None = None
    end_at: datetime | None = None
    pass_id: int | None = None
    children: list[pricing.ChildPick] = field(default_factory=list)
    child_names: dict[int, str] = field(default_factory=dict)

    def breakdown(self) -> LineBreakdown:
        children = None
        if self.service.type == "package":
            children = [
                ChildLine(
                    service_id=c.child_service_id,
                    name=self.child_names.get(c.child_service_id, ""),
                    quantity=c.quantity,
                    unit_price_cents=c.price_cents,
                    discount_percentage=c.discount_percentage,
                    discounted_unit_price_cents=pricing.discounted_unit(c.price_cents, c.discount_percentage),
                    is_required=c.is_required,
                )
                for c in self.children
                if c.quantity > 0
            ]
        return LineBreakdown(
            line=self.line_no,
            service_id=self.service.id,
            service_type=self.service.type,
            name=self.service.name,
            practitioner_id=self.practitioner.id,
            quantity=self.quantity,
            unit_price_cents=self.unit_price_cents,
            line_total_cents=self.line_total_cents,
            covered_by_pass=self.pass_id is not None,
            pass_id=self.pass_id,
            start_time=self.start_at,
            end_time=self.end_at,
            children=children,
        )


@dataclass
class Cart:
    checkout_type: str
    currency: str
    lines: list[CartLine]
    totals: pricing.Totals
    coupon: Coupon | None


def package_children(
    service: Service, item: CheckoutItem, line_no: int, currency: str
) -> list[pricing.ChildPick]:
    rules = {c.child_service_id: c for c in service.children}
    selections = item.child_selections or {}
    field_base = f"items[{line_no}].child_selections"
    for key in selections:
        if int(key) not in rules:
            raise InvalidChildSelection(
                f"Service {key} is not part of package {service.id}", details={"field": f"{field_base}.{key}"}
            )
    picks = []
    for child_id, rule in rules.items():
        sel = selections.get(str(child_id))
        if rule.is_required:
            if sel is not None and not sel.selected:
                raise InvalidChildSelection(
                    f"Service {child_id} is required in this package",
                    details={"field": f"{field_base}.{child_id}"},
                )
            qty = sel.quantity if sel is not None else rule.quantity
            if service.price_cents is not None and qty < rule.quantity:
                raise InvalidChildSelection(
                    f"Service {child_id} is included {rule.quantity}× in this package's price",
                    details={"field": f"{field_base}.{child_id}.quantity"},
                )
        else:
            qty = (sel.quantity if sel.quantity else rule.quantity) if sel is not None and sel.selected else 0
        if rule.child.price_cents is None:
            raise ServiceNotPurchasable(details={"service_id": child_id})
        child_price = catalog_service.price_in(rule.child, currency)
        if child_price is None:
            raise CurrencyNotOffered(
                details={
                    "field": f"items[{line_no}].service_id",
                    "service_id": child_id,
                    "currency": currency,
                }
            )
        picks.append(
            pricing.ChildPick(
                child_service_id=child_id,
                price_cents=child_price,
                discount_percentage=rule.discount_percentage,
                quantity=qty,
                default_quantity=rule.quantity,
                is_required=rule.is_required,
            )
        )
    if not any(p.quantity > 0 for p in picks):
        raise InvalidChildSelection(
            "A package must include at least one service", details={"field": field_base}
        )
    return picks


async def build_cart(
    db: SessionOrConnection,
    settings: Settings,
    user: User,
    body: CheckoutRequest,
    now: datetime,
    *,
    catalog: catalog_service.CatalogCache | None = None,
    check_bookings: bool = False,
) -> Cart:
    """`db` is the create transaction's session, or (quotes) a bare read connection.

    Session times are checked by the availability rules; with `check_bookings` (create) also
    against the bookings that hold the practitioner's time, read in `db`'s transaction. Quotes
    skip that read: a slot taken meanwhile is create's 409, as it would be a moment later anyway.
    """
    if catalog is not None:
        services = await catalog.services(db, (i.service_id for i in body.items))
        practitioners = await catalog.practitioners(db, (i.practitioner_id for i in body.items))
    else:
        async with orm_session(db) as session:
            services = await catalog_repo.services_by_id(session, (i.service_id for i in body.items))
            practitioners = await catalog_repo.practitioners_by_id(
                session, (i.practitioner_id for i in body.items)
            )
    want_type = SERVICE_TYPE[body.checkout_type]
    lines: list[CartLine] = []
    # one order, one currency (SPEC 14): the request's, else the default; every item priced in it
    currency = body.currency or settings.currency
    if currency not in settings.offered_currencies():
        raise CurrencyNotOffered(
            details={"field": "currency", "currency": currency, "currencies": settings.offered_currencies()}
        )
    lead = timedelta(minutes=settings.min_lead_minutes)
    pass_uses: dict[int, int] = {}
    # sessions earlier in this cart, per practitioner: [start, blocked_until) as they will be held
    held: dict[int, list[tuple[datetime, datetime]]] = {}

    for n, item in enumerate(body.items):
        f = f"items[{n}]"
        service = services.get(item.service_id)
        if service is None:
            raise ServiceNotFound(details={"field": f"{f}.service_id", "service_id": item.service_id})
        if service.type != want_type:
            raise CheckoutTypeMismatch(
                details={
                    "field": f"{f}.service_id",
                    "service_type": service.type,
                    "checkout_type": body.checkout_type,
                }
            )
        practitioner = practitioners.get(item.practitioner_id)
        if practitioner is None or service.practitioner_id != item.practitioner_id:
            raise PractitionerMismatch(details={"field": f"{f}.practitioner_id"})
        if not practitioner.is_active or not catalog_service.is_purchasable(service, now):
            raise ServiceNotPurchasable(details={"field": f"{f}.service_id", "service_id": service.id})
        price = catalog_service.price_in(service, currency)
        if price is None and not (service.type == "package" and service.price_cents is None):
            raise CurrencyNotOffered(
                details={"field": f"{f}.service_id", "service_id": service.id, "currency": currency}
            )

        if service.type == "session":
            if item.quantity != 1:
                raise QuantityOutOfRange(
                    "A session item has quantity 1", details={"field": f"{f}.quantity", "max": 1}
                )
            if item.child_selections:
                raise InvalidChildSelection(details={"field": f"{f}.child_selections"})
            if item.start_time is None or item.end_time is None:
                raise TimesRequired(details={"field": f"{f}.start_time"})
            start, end = item.start_time, item.end_time
            if end - start != timedelta(minutes=service.duration_minutes or 0):
                raise InvalidDuration(
                    details={"field": f"{f}.end_time", "duration_minutes": service.duration_minutes}
                )
            mine = held.setdefault(practitioner.id, [])
            reason = availability.refusal(
                catalog_service.rules_for(practitioner),
                start,
                end,
                now=now,
                min_lead=lead,
                time_off=catalog_service.time_off_of(practitioner),
                busy=await catalog_service.occupied(db, practitioner, start, end, also=mine)
                if check_bookings
                else None,
            )
            if reason is not None:
                raise catalog_service.slot_error(reason, f"{f}.start_time", settings.min_lead_minutes)
            mine.append((start, end + timedelta(minutes=practitioner.buffer_minutes)))
            pass_id = None
            if item.use_pass:
                for candidate, left in await passes_service.sessions_left(
                    db, user_id=user.id, service_id=service.id, practitioner_id=practitioner.id, now=now
                ):
                    if left - pass_uses.get(candidate, 0) > 0:
                        pass_id = candidate
                        pass_uses[candidate] = pass_uses.get(candidate, 0) + 1
                        break
            unit = int(price or 0)
            lines.append(
                CartLine(
                    n, service, practitioner, 1, unit, 0 if pass_id is not None else unit, start, end, pass_id
                )
            )
            continue

        if item.start_time is not None or item.end_time is not None:
            raise TimesRequired(details={"field": f"{f}.start_time"})
        if not 1 <= item.quantity <= service.max_per_customer:
            raise QuantityOutOfRange(
                details={"field": f"{f}.quantity", "min": 1, "max": service.max_per_customer}
            )
        if service.type == "bundle":
            if item.child_selections:
                raise InvalidChildSelection(details={"field": f"{f}.child_selections"})
            unit = int(price or 0)
            lines.append(CartLine(n, service, practitioner, item.quantity, unit, unit * item.quantity))
        else:
            picks = package_children(service, item, n, currency)
            unit = pricing.package_unit_price(price, picks)
            names = {c.child_service_id: c.child.name for c in service.children}
            lines.append(
                CartLine(
                    n,
                    service,
                    practitioner,
                    item.quantity,
                    unit,
                    unit * item.quantity,
                    children=picks,
                    child_names=names,
                )
            )

    priced = [pricing.PricedLine(line.service.id, line.line_total_cents) for line in lines]
    subtotal = sum(p.line_total_cents for p in priced)

    coupon = None
    if body.coupon_code:
        async with orm_session(db) as session:
            coupon = await coupons_service.validate(
                session,
                code=body.coupon_code,
                user_id=user.id,
                checkout_type=body.checkout_type,
                service_ids={line.service.id for line in lines},
                subtotal_cents=subtotal,
                currency=currency,
                now=now,
            )
    available = await credits_service.available_cents(db, user.id, currency)
    totals = pricing.price_totals(
        priced,
        coupon=coupons_service.terms(coupon) if coupon else None,
        tax_rate=settings.tax_rate_for(currency),
        currency=currency,
        credits_available=available,
        use_credits=body.use_credits,
        credits_to_apply=body.credits_to_apply,
    )
    return Cart(body.checkout_type, currency, lines, totals, coupon)
