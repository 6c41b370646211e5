"""Every domain router; each declares its paths under API_PREFIX (/api/v1/stripe) itself."""

from fastapi import APIRouter

from estuary_checkout.bookings.router import router as bookings_router
from estuary_checkout.catalog.router import router as catalog_router
from estuary_checkout.credits.router import router as credits_router
from estuary_checkout.orders.history_router import router as order_history_router
from estuary_checkout.orders.router import router as orders_router
from estuary_checkout.passes.router import router as passes_router
from estuary_checkout.payments.router import router as payments_router
from estuary_checkout.webhooks.router import router as webhooks_router

API_ROUTERS: tuple[APIRouter, ...] = (
    orders_router,
    payments_router,
    credits_router,
    catalog_router,
    webhooks_router,
    order_history_router,
    bookings_router,
    passes_router,
)
