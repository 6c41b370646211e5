"""Imports every table so metadata (Alembic, tests) sees the whole schema."""

from estuary_checkout.audit.models import AuditLog
from estuary_checkout.bookings.models import Booking, BookingEvent
from estuary_checkout.catalog.models import (
    AvailabilityWindow,
    PackageChild,
    Practitioner,
    Service,
    ServicePrice,
    TimeOff,
)
from estuary_checkout.coupons.models import Coupon, CouponRedemption
from estuary_checkout.credits.models import CreditBalance, CreditLedgerEntry
from estuary_checkout.db.base import Base
from estuary_checkout.events.models import OutboundEvent, WebhookDelivery, WebhookEndpoint
from estuary_checkout.idempotency.models import IdempotencyRecord
from estuary_checkout.links.models import PaymentLink, PaymentLinkUse, PaymentLinkViews
from estuary_checkout.memberships.models import Membership, MembershipPlan, MembershipPlanPrice
from estuary_checkout.orders.models import Order, OrderLine
from estuary_checkout.passes.models import Pass, PassService
from estuary_checkout.payments.models import SavedPaymentMethod
from estuary_checkout.refunds.models import Refund
from estuary_checkout.users.models import User
from estuary_checkout.webhooks.models import StripeEvent
from estuary_checkout.workflows.models import Notification, OutboxMessage

__all__ = [
    "AuditLog",
    "AvailabilityWindow",
    "Base",
    "Booking",
    "BookingEvent",
    "Coupon",
    "CouponRedemption",
    "CreditBalance",
    "CreditLedgerEntry",
    "IdempotencyRecord",
    "Membership",
    "MembershipPlan",
    "MembershipPlanPrice",
    "Notification",
    "Order",
    "OrderLine",
    "OutboundEvent",
    "OutboxMessage",
    "PackageChild",
    "Pass",
    "PassService",
    "PaymentLink",
    "PaymentLinkUse",
    "PaymentLinkViews",
    "Practitioner",
    "Refund",
    "SavedPaymentMethod",
    "Service",
    "ServicePrice",
    "StripeEvent",
    "TimeOff",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
