"""Payment links (SPEC 13.1): operators create and change them; anyone reads an offer; a signed-in
customer checks out from one. The limits are the database's (`uses`), the views are counted in
memory and written in batches (`views`)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.audit import service as audit
from estuary_checkout.audit.service import Actor
from estuary_checkout.catalog import repository as catalog_repo
from estuary_checkout.catalog.models import Practitioner, Service
from estuary_checkout.catalog.service import is_purchasable, price_in
from estuary_checkout.catalog.service import prices as catalog_prices
from estuary_checkout.config import Settings
from estuary_checkout.coupons import service as coupons_service
from estuary_checkout.db.base import utcnow
from estuary_checkout.errors import AppError
from estuary_checkout.links.errors import (
    CouponCodesNotAllowed,
    CurrencyNotOffered,
    LinkNotFound,
    LinkRestricted,
    RedirectNotAllowed,
)
from estuary_checkout.links.models import PaymentLink, PaymentLinkUse, PaymentLinkViews
from estuary_checkout.links.schemas import (
    AFTER_COMPLETION,
    AfterCompletion,
    LinkAdmin,
    LinkCheckout,
    LinkCreate,
    LinkStats,
    LinkUpdate,
    Offer,
    OfferPractitioner,
    OfferQuote,
    OfferService,
    RedirectTo,
)
from estuary_checkout.links.uses import unavailable
from estuary_checkout.orders.cart import package_children
from estuary_checkout.orders.errors import (
    InvalidChildSelection,
    PractitionerMismatch,
    ServiceNotFound,
    ServiceNotPurchasable,
)
from estuary_checkout.orders.models import Order
from estuary_checkout.orders.schemas import CheckoutItem, CheckoutRequest, ChildSelection
from estuary_checkout.pagination import Page, keyset, page_of
from estuary_checkout.paths import MOUNT_PATH
from estuary_checkout.pricing import service as pricing
from estuary_checkout.users.models import User

SLUG_BYTES = 24  # 192 bits of `secrets`, 32 URL-safe characters
MAX_SLUG_LENGTH = 64
CHECKOUT_TYPES = {"session": "single_session", "bundle": "bundle", "package": "package"}


def new_slug() -> str:
    return secrets.token_urlsafe(SLUG_BYTES)


def page_url(base_url: str, slug: str) -> str:
    return f"{base_url.rstrip('/')}{MOUNT_PATH}/pay/{slug}"


def admin_view(link: PaymentLink, base_url: str) -> LinkAdmin:
    return LinkAdmin(
        id=link.id,
        slug=link.slug,
        url=page_url(base_url, link.slug),
        active=link.active,
        service_id=link.service_id,
        practitioner_id=link.practitioner_id,
        quantity=link.quantity,
        child_selections=link.child_selections,
        currency=link.currency,
        coupon_code=link.coupon_code,
        allow_coupon_codes=link.allow_coupon_codes,
        expires_at=link.expires_at,
        max_completed=link.max_completed,
        max_per_customer=link.max_per_customer,
        restricted_to_email=link.restricted_to_email,
        after_completion=AFTER_COMPLETION.validate_python(link.after_completion),
        inactive_message=link.inactive_message,
        metadata=link.metadata_ or {},
        completed_count=link.completed_count,
        reserved_count=link.reserved_count,
        created_at=link.created_at,
        updated_at=link.updated_at,
    )


def _check_redirect(after: AfterCompletion, settings: Settings) -> None:
    """No open redirects: https anywhere, plain http only to this machine in development."""
    if not isinstance(after, RedirectTo):
        return
    parts = urlsplit(after.url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and local and settings.env != "production":
        return
    raise RedirectNotAllowed(details={"field": "after_completion.url"})


async def _service_and_practitioner(
    session: AsyncSession, service_id: int, practitioner_id: int
) -> tuple[Service, Practitioner]:
    services = await catalog_repo.services_by_id(session, [service_id])
    service = services.get(service_id)
    if service is None:
        raise ServiceNotFound(details={"field": "service_id", "service_id": service_id})
    if service.practitioner_id != practitioner_id:
        raise PractitionerMismatch(details={"field": "practitioner_id"})
    practitioner = (await catalog_repo.practitioners_by_id(session, [practitioner_id]))[practitioner_id]
    return service, practitioner


def _item(link: PaymentLink, service: Service, body: LinkCheckout | None = None) -> CheckoutItem:
    # a link's own selections are fixed; a link without them lets the buyer choose (a package)
    selections = link.child_selections or (body.child_selections if body else None)
    return CheckoutItem(
        service_id=link.service_id,
        practitioner_id=link.practitioner_id,
        quantity=link.quantity,
        start_time=body.start_time if body else None,
        end_time=body.end_time if body else None,
        child_selections={k: ChildSelection.model_validate(v) for k, v in selections.items()}
        if selections
        else None,
    )


async def create(
    session: AsyncSession, settings: Settings, actor: Actor, body: LinkCreate, base_url: str
) -> LinkAdmin:
    service, _practitioner = await _service_and_practitioner(session, body.service_id, body.practitioner_id)
    currency = body.currency or settings.currency
    if currency not in settings.offered_currencies() or (
        price_in(service, currency) is None
        and not (service.type == "package" and service.price_cents is None)
    ):
        offered = [p.currency for p in catalog_prices(service)]
        raise CurrencyNotOffered(details={"field": "currency", "currencies": offered})
    if service.type == "session" and body.quantity != 1:
        raise ServiceNotPurchasable("A session link sells one session", details={"field": "quantity"})
    if body.child_selections and service.type != "package":
        raise ServiceNotPurchasable(
            "Only a package has child selections", details={"field": "child_selections"}
        )
    _check_redirect(body.after_completion, settings)
    now = utcnow()
    link = PaymentLink(
        slug=new_slug(),
        service_id=service.id,
        practitioner_id=body.practitioner_id,
        quantity=body.quantity,
        child_selections={k: v.model_dump() for k, v in body.child_selections.items()}
        if body.child_selections
        else None,
        currency=currency,
        coupon_code=body.coupon_code,
        allow_coupon_codes=body.allow_coupon_codes,
        expires_at=body.expires_at,
        max_completed=body.max_completed,
        max_per_customer=body.max_per_customer,
        restricted_to_email=body.restricted_to_email,
        after_completion=AFTER_COMPLETION.dump_python(body.after_completion, mode="json"),
        inactive_message=body.inactive_message,
        metadata_=body.metadata or {},
        active=True,
        reserved_count=0,
        completed_count=0,
        created_at=now,
        updated_at=now,
    )
    session.add(link)
    await session.flush()
    if service.type == "package":  # the selections must make a package that can be priced
        package_children(service, _item(link, service), 0, currency)
    view = admin_view(link, base_url)
    await audit.record(
        session, actor, action="create", entity="payment_link", entity_id=link.id, before=None, after=view
    )
    return view


async def _get(session: AsyncSession, link_id: int, *, for_update: bool = False) -> PaymentLink:
    stmt = select(PaymentLink).where(PaymentLink.id == link_id)
    if for_update:
        stmt = stmt.with_for_update()
    link = (await session.execute(stmt)).scalar_one_or_none()
    if link is None:
        raise LinkNotFound(details={"payment_link_id": link_id})
    return link


async def get(session: AsyncSession, link_id: int, base_url: str) -> LinkAdmin:
    return admin_view(await _get(session, link_id), base_url)


async def list_links(
    session: AsyncSession, base_url: str, *, active: bool | None, limit: int, cursor: str | None
) -> Page[LinkAdmin]:
    stmt = select(PaymentLink)
    if active is not None:
        stmt = stmt.where(PaymentLink.active.is_(active))
    rows = (await session.execute(keyset(stmt, (PaymentLink.id,), limit=limit, cursor=cursor))).scalars()
    got = page_of(list(rows), limit, lambda link: (link.id,))
    return Page(
        data=[admin_view(r, base_url) for r in got.rows], has_more=got.has_more, next_cursor=got.next_cursor
    )


async def update(
    session: AsyncSession, settings: Settings, actor: Actor, link_id: int, body: LinkUpdate, base_url: str
) -> LinkAdmin:
    link = await _get(session, link_id, for_update=True)
    before = admin_view(link, base_url)
    fields = body.model_fields_set
    if body.after_completion is not None:
        _check_redirect(body.after_completion, settings)
        link.after_completion = AFTER_COMPLETION.dump_python(body.after_completion, mode="json")
    simple = (
        "active", "coupon_code", "allow_coupon_codes", "expires_at", "max_completed",
        "max_per_customer", "restricted_to_email", "inactive_message",
    )  # fmt: skip
    for name in simple:
        if name in fields:
            value = getattr(body, name)
            if value is None and name in ("active", "allow_coupon_codes"):
                continue  # not nullable: null means "leave as it is"
            setattr(link, name, value)
    if "metadata" in fields:
        link.metadata_ = body.metadata or {}
    link.updated_at = utcnow()
    await session.flush()
    after = admin_view(link, base_url)
    await audit.record(
        session, actor, action="update", entity="payment_link", entity_id=link.id, before=before, after=after
    )
    return after


async def stats(session: AsyncSession, link_id: int) -> LinkStats:
    link = await _get(session, link_id)
    views = await session.scalar(select(PaymentLinkViews.views).where(PaymentLinkViews.link_id == link_id))
    started = await session.scalar(
        select(func.count()).select_from(PaymentLinkUse).where(PaymentLinkUse.link_id == link_id)
    )
    revenue = await session.scalar(
        select(func.coalesce(func.sum(Order.total_cents - Order.refunded_cents), 0))
        .join(PaymentLinkUse, PaymentLinkUse.order_id == Order.id)
        .where(PaymentLinkUse.link_id == link_id, PaymentLinkUse.status == "completed")
    )
    return LinkStats(
        views=views or 0,
        checkouts_started=started or 0,
        completed=link.completed_count,
        revenue_cents=int(revenue or 0),
        currency=link.currency,
    )


# --- the public side --------------------------------------------------------------------------


async def by_slug(session: AsyncSession, slug: str) -> PaymentLink:
    """The link at `slug`, or 404 (a slug of any length or content is just not found)."""
    if not slug or len(slug) > MAX_SLUG_LENGTH:
        raise LinkNotFound()
    link = (await session.execute(select(PaymentLink).where(PaymentLink.slug == slug))).scalar_one_or_none()
    if link is None:
        raise LinkNotFound()
    return link


def remaining(link: PaymentLink) -> int | None:
    if link.max_completed is None:
        return None
    return max(0, link.max_completed - link.completed_count - link.reserved_count)


def is_available(link: PaymentLink, now: datetime) -> bool:
    if not link.active or (link.expires_at is not None and link.expires_at <= now):
        return False
    return remaining(link) != 0


async def offer(session: AsyncSession, settings: Settings, slug: str) -> tuple[int, Offer]:
    """What anyone with the link sees: the service, its price (with the link's own coupon, before
    any store credit) and whether it can still be bought. Nothing about other buyers or the
    operator (no counts beyond `remaining`, no restriction, no metadata)."""
    link = await by_slug(session, slug)
    now = utcnow()
    if not is_available(link, now):
        raise unavailable(link)
    service, practitioner = await _service_and_practitioner(session, link.service_id, link.practitioner_id)
    if not practitioner.is_active or not is_purchasable(service, now):
        raise unavailable(link)
    return link.id, Offer(
        slug=link.slug,
        service=OfferService(
            id=service.id,
            type=service.type,
            name=service.name,
            description=service.description,
            duration_minutes=service.duration_minutes,
            quantity=link.quantity,
        ),
        practitioner=OfferPractitioner(
            id=practitioner.id, name=practitioner.name, timezone=practitioner.timezone
        ),
        quote=await _quote(session, settings, link, service, now),
        active=True,
        expires_at=link.expires_at,
        remaining=remaining(link),
        allow_coupon_codes=link.allow_coupon_codes,
        after_completion=AFTER_COMPLETION.validate_python(link.after_completion),
    )


async def _quote(
    session: AsyncSession, settings: Settings, link: PaymentLink, service: Service, now: datetime
) -> OfferQuote:
    """The price of what the link sells, priced like a cart (same functions), for nobody in
    particular: no store credit, no pass, the link's coupon if it applies."""
    if service.type == "package":
        unit = pricing.package_unit_price(
            price_in(service, link.currency),
            package_children(service, _item(link, service), 0, link.currency),
        )
    else:
        unit = int(price_in(service, link.currency) or 0)
    line = pricing.PricedLine(service.id, unit * link.quantity)
    coupon = None
    if link.coupon_code:
        try:
            coupon = await coupons_service.validate(
                session,
                code=link.coupon_code,
                user_id=None,
                checkout_type=CHECKOUT_TYPES[service.type],
                service_ids={service.id},
                subtotal_cents=line.line_total_cents,
                currency=link.currency,
                now=now,
            )
        except AppError:  # a coupon that no longer applies: the offer shows the plain price
            coupon = None
    t = pricing.price_totals(
        [line],
        coupon=coupons_service.terms(coupon) if coupon else None,
        tax_rate=settings.tax_rate_for(link.currency),
        currency=link.currency,
        credits_available=0,
        use_credits=False,
        credits_to_apply=None,
    )
    return OfferQuote(
        subtotal_cents=t.subtotal_cents,
        discount_cents=t.discount_cents,
        tax_cents=t.tax_cents,
        total_cents=t.total_cents,
        currency=link.currency,
    )


async def checkout_request(
    session: AsyncSession, user: User, slug: str, body: LinkCheckout
) -> tuple[PaymentLink, CheckoutRequest]:
    """The link at `slug` (row-locked) and the checkout request it makes for this customer, or
    the reason it cannot be used (410 unavailable, 403 restricted, 422 no coupon codes)."""
    link = await by_slug(session, slug)
    if not is_available(link, utcnow()):
        raise unavailable(link)
    if link.restricted_to_email and (user.email or "").casefold() != link.restricted_to_email.casefold():
        raise LinkRestricted()
    if body.coupon_code and not link.allow_coupon_codes:
        raise CouponCodesNotAllowed(details={"field": "coupon_code"})
    if body.child_selections and link.child_selections is not None:
        raise InvalidChildSelection(
            "This link's package selections are fixed", details={"field": "child_selections"}
        )
    service = (await catalog_repo.services_by_id(session, [link.service_id]))[link.service_id]
    request = CheckoutRequest(
        checkout_type=CHECKOUT_TYPES[service.type],  # type: ignore[arg-type]
        items=[_item(link, service, body)],
        use_credits=body.use_credits,
        save_payment_method=body.save_payment_method,
        payment_method_id=body.payment_method_id,
        coupon_code=link.coupon_code or body.coupon_code,
        currency=link.currency,
        metadata={k: v for k, v in (link.metadata_ or {}).items()},
    )
    return link, request


def request_payload(slug: str, body: LinkCheckout) -> dict[str, Any]:
    """What an Idempotency-Key is bound to for a link checkout."""
    return {"slug": slug, **body.model_dump(mode="json")}
