"""Payment confirmation and saved cards: Stripe is asked, never the client."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.config import Settings
from estuary_checkout.orders import repository as orders_repo
from estuary_checkout.orders import service as orders_service
from estuary_checkout.orders.errors import OrderNotFound
from estuary_checkout.orders.models import Order
from estuary_checkout.orders.schemas import ConfirmRequest, ConfirmResult
from estuary_checkout.payments import cards
from estuary_checkout.payments.errors import PaymentMethodNotFound, PaymentMismatch
from estuary_checkout.payments.gateway import Intent, StripeGateway
from estuary_checkout.payments.schemas import PaymentMethodList, PaymentMethodPublic, PublicConfig
from estuary_checkout.users import repository as users_repo
from estuary_checkout.users.models import User


def intent_mismatches(order: Order, intent: Intent, *, customer_id: str | None = None) -> list[str]:
    """What about a PaymentIntent read from Stripe does not match the order it claims to pay."""
    problems = []
    if intent.metadata.get("order_id") != str(order.id):
        problems.append("order_id")
    if intent.amount != order.total_cents:
        problems.append("amount")
    if intent.currency.lower() != order.currency.lower():
        problems.append("currency")
    if customer_id and intent.customer and intent.customer != customer_id:
        problems.append("customer")
    return problems


def _check_intent_matches(order: Order, user: User, intent: Intent) -> None:
    problems = intent_mismatches(order, intent, customer_id=user.stripe_customer_id)
    if problems:
        raise PaymentMismatch(details={"mismatched": problems})


async def confirm_payment(
    session: AsyncSession, gateway: StripeGateway, user: User, body: ConfirmRequest
) -> ConfirmResult:
    found = await orders_repo.for_user_with_customer(session, user.id, body.payment_intent_id)
    if found is None:
        raise OrderNotFound()
    order, user.stripe_customer_id = found  # the caller's current Stripe customer
    if order.status in orders_repo.SETTLED_STATUSES:
        # already settled (by the webhook, the reconciler or an earlier confirm): Stripe was
        # asked then, and nothing it says now could change the order
        return ConfirmResult(
            status=order.status,
            order_id=order.id,
            booking_ids=await orders_repo.booking_ids(session, order.id),
            requires_action=False,
            next_action=None,
        )
    intent = await gateway.retrieve_intent(body.payment_intent_id)
    _check_intent_matches(order, user, intent)
    if (
        body.payment_method_id
        and order.status in orders_repo.OPEN_STATUSES
        and intent.status in ("requires_payment_method", "requires_confirmation")
    ):
        card = await gateway.retrieve_card(body.payment_method_id)
        if card.customer is not None and card.customer != user.stripe_customer_id:
            raise PaymentMethodNotFound(details={"field": "payment_method_id"})
        intent = await gateway.confirm_intent(
            intent.id,
            payment_method_id=body.payment_method_id,
            idempotency_key=f"order-{order.id}-confirm-{body.payment_method_id}",
        )
        _check_intent_matches(order, user, intent)
    status = await orders_service.apply_intent(session, gateway, order, intent)
    requires_action = intent.status == "requires_action" and status in orders_repo.OPEN_STATUSES
    return ConfirmResult(
        status=status,
        order_id=order.id,
        booking_ids=await orders_repo.booking_ids(session, order.id),
        requires_action=requires_action,
        next_action=intent.next_action if requires_action else None,
    )


async def list_payment_methods(
    session: AsyncSession, gateway: StripeGateway, user: User
) -> PaymentMethodList:
    user = await users_repo.get(session, user.id) or user  # its current Stripe customer
    if not user.stripe_customer_id:
        return PaymentMethodList(payment_methods=[])
    listed = await gateway.list_cards(user.stripe_customer_id)
    default = await gateway.default_payment_method(user.stripe_customer_id) or await cards.default_for(
        session, user.id
    )
    return PaymentMethodList(
        payment_methods=[
            PaymentMethodPublic(
                id=c.id,
                brand=c.brand,
                last4=c.last4,
                exp_month=c.exp_month,
                exp_year=c.exp_year,
                is_default=c.id == default,
            )
            for c in listed
        ]
    )


STRIPE_JS_URL = "https://js.stripe.com/v3/"


def stripe_js_url(settings: Settings) -> str:
    """Real Stripe.js in production or against api.stripe.com; else the subset the API base (the
    emulator) serves at /v3/ (docs/stripe-js-subset.md)."""
    base = settings.stripe_api_base.rstrip("/")
    if settings.env == "production" or urlsplit(base).hostname == "api.stripe.com":
        return STRIPE_JS_URL
    return f"{base}/v3/"


def public_config(settings: Settings) -> PublicConfig:
    return PublicConfig(
        publishable_key=settings.stripe_publishable_key,
        currencies=settings.offered_currencies(),
        default_currency=settings.currency,
        tax_rate=str(settings.tax_rate),
        hold_minutes=settings.hold_minutes,
        stripe_api_base=settings.stripe_api_base if settings.env != "production" else None,
        stripe_js_url=stripe_js_url(settings),
    )
