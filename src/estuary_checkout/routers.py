"""Every domain router, under /api/v1/stripe."""

from fastapi import APIRouter

from estuary_checkout.credits.router import router as credits_router
from estuary_checkout.orders.router import router as orders_router
from estuary_checkout.payments.router import router as payments_router
from estuary_checkout.webhooks.router import router as webhooks_router

api_router = APIRouter()
api_router.include_router(orders_router)
api_router.include_router(payments_router)
api_router.include_router(credits_router)
api_router.include_router(webhooks_router)
