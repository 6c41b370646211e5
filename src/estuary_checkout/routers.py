"""Every domain router, under /api/v1/stripe."""

from fastapi import APIRouter

from estuary_checkout.credits.router import router as credits_router

api_router = APIRouter()
api_router.include_router(credits_router)
