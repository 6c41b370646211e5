"""Every domain router; each declares its paths under API_PREFIX (/api/v1/stripe) itself."""

from fastapi import APIRouter

from estuary_checkout.audit.router import router as audit_router
from estuary_checkout.bookings.changes_router import router as booking_changes_router
from estuary_checkout.bookings.router import router as bookings_router
from estuary_checkout.catalog.admin_router import router as catalog_admin_router
from estuary_checkout.catalog.router import router as catalog_router
from estuary_checkout.coupons.router import router as coupons_router
from estuary_checkout.credits.router import router as credits_router
from estuary_checkout.events.router import router as events_router
from estuary_checkout.links.admin_router import router as links_admin_router
from estuary_checkout.links.router import router as links_router
from estuary_checkout.memberships.admin_router import router as memberships_admin_router
from estuary_checkout.memberships.router import router as memberships_router
from estuary_checkout.orders.history_router import router as order_history_router
from estuary_checkout.orders.router import router as orders_router
from estuary_checkout.passes.router import router as passes_router
from estuary_checkout.payments.router import router as payments_router
from estuary_checkout.refunds.router import router as refunds_router
from estuary_checkout.webhooks.router import router as webhooks_router

API_ROUTERS: tuple[APIRouter, ...] = (
    orders_router,
    payments_router,
    credits_router,
    catalog_router,
    booking_changes_router,
    refunds_router,
    webhooks_router,
    catalog_admin_router,
    coupons_router,
    audit_router,
    order_history_router,
    bookings_router,
    passes_router,
    events_router,
    links_router,
    links_admin_router,
    memberships_router,
    memberships_admin_router,
)
