"""`estuary-checkout demo`: a whole purchase against the running dev stack, as a client would make it.

price → create → pay at Stripe with the publishable key and client_secret (what Stripe.js does)
→ confirm → status → the booking's workflow at Temporal. A declined card ends with the decline.
With `--cancel` the client then cancels the session and the summary shows the refund.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from estuary_checkout.config import Settings
from estuary_checkout.currencies import format_money

API = "/stripe/fastapi/api/v1/stripe"
TYPES = {"session": "single_session", "bundle": "bundle", "package": "package"}


class DemoFailed(Exception):
    pass


@dataclass
class DemoOptions:
    user_email: str
    checkout_type: str
    card: str = "pm_card_visa"
    use_credits: bool = False
    coupon: str | None = None
    save_card: bool = False
    api_url: str = "http://127.0.0.1:8000"
    cancel: bool = False
    currency: str | None = None  # default: the service's default currency (CHECKOUT_CURRENCY)


def _item(kind: str, slot: datetime | None) -> dict[str, Any]:
    if kind == "session":
        assert slot is not None
        return {
            "service_id": 123,
            "practitioner_id": 456,
            "start_time": slot.isoformat(),
            "end_time": (slot + timedelta(minutes=60)).isoformat(),
        }
    if kind == "bundle":
        return {"service_id": 789, "practitioner_id": 456, "quantity": 1}
    return {
        "service_id": 999,
        "practitioner_id": 456,
        "child_selections": {"102": {"selected": True, "quantity": 1}},
    }


async def _free_slots(api: httpx.AsyncClient, since: datetime) -> list[datetime]:
    """Free slots of the demo session (service 123, Maya Chen), as a front end finds them."""
    r = await api.get(
        f"{API}/catalog/availability",
        params={"service_id": 123, "from": since.isoformat(), "to": (since + timedelta(days=14)).isoformat()},
    )
    if r.status_code != 200:
        raise DemoFailed(f"availability: {r.json().get('error')} ({r.json().get('code')})")
    return [datetime.fromisoformat(s["start_time"]) for s in r.json()["slots"]]


def _money(amount: int, currency: str = "usd") -> str:
    """An amount in the currency's minor units, for people (Babel, by the registry's digits)."""
    return format_money(amount, currency)


async def run_demo(settings: Settings, token: str, opts: DemoOptions, console: Console) -> dict[str, Any]:
    kind = opts.checkout_type
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=opts.api_url, timeout=30, headers=headers) as api:
        with console.status("Reading the service configuration…"):
            cfg = (await api.get(f"{API}/config")).raise_for_status().json()
        stripe_base = cfg.get("stripe_api_base") or settings.stripe_api_base
        base_body: dict[str, Any] = {
            "checkout_type": TYPES[kind],
            "use_credits": opts.use_credits,
            "save_payment_method": opts.save_card,
        }
        if opts.coupon:
            base_body["coupon_code"] = opts.coupon
        if opts.currency:
            base_body["currency"] = opts.currency

        created = quote = None
        slots: list[datetime | None] = [None]
        if kind == "session":
            # two days out when the demo cancels: inside the full-refund window of the policy
            since = datetime.now(UTC) + timedelta(days=2 if opts.cancel else 1)
            with console.status("Finding a free slot (GET /catalog/availability)…"):
                slots = [*await _free_slots(api, since)]
        with console.status("Pricing the cart and creating the order…"):
            for slot in slots:
                body = {**base_body, "items": [_item(kind, slot)]}
                q = await api.post(f"{API}/checkout/calculate-price", json=body)
                if q.status_code != 200:
                    raise DemoFailed(f"calculate-price: {q.json().get('error')} ({q.json().get('code')})")
                r = await api.post(f"{API}/checkout/create", json=body)
                if r.status_code == 409 and r.json().get("code") == "SLOT_UNAVAILABLE":
                    continue
                if r.status_code != 201:
                    raise DemoFailed(f"create: {r.json().get('error')} ({r.json().get('code')})")
                quote, created = q.json(), r.json()
                break
        if created is None or quote is None:
            raise DemoFailed("no free slot found in the next 14 days")
        console.print(
            f"[green]✓[/] order {created['order_id']} created, total {_money(created['total_cents'], created['currency'])}"
        )

        if created["requires_payment"]:
            with console.status(f"Paying at Stripe with {opts.card} (publishable key + client_secret)…"):
                async with httpx.AsyncClient(base_url=stripe_base, timeout=30) as browser:
                    paid = await browser.post(
                        f"/v1/payment_intents/{created['payment_intent_id']}/confirm",
                        data={"client_secret": created["client_secret"], "payment_method": opts.card},
                        auth=(cfg["publishable_key"], ""),
                    )
                    pi = paid.json()
                    if paid.status_code >= 400:
                        err = pi.get("error", {})
                        raise DemoFailed(
                            f"card declined: {err.get('message')} (code {err.get('code')}, "
                            f"decline_code {err.get('decline_code')})"
                        )
                    if pi.get("status") == "requires_action":
                        console.print("[yellow]•[/] 3-D Secure challenge: completing it at the emulator")
                        done = await browser.post(
                            f"/_emulator/payment_intents/{pi['id']}/three_d_secure",
                            json={"outcome": "complete"},
                        )
                        done.raise_for_status()
            console.print("[green]✓[/] paid at Stripe")

        confirm: dict[str, Any] = {}
        if created["payment_intent_id"]:
            with console.status("Confirming the payment with the service…"):
                c = await api.post(
                    f"{API}/payment/confirm", json={"payment_intent_id": created["payment_intent_id"]}
                )
                if c.status_code != 200:
                    raise DemoFailed(f"confirm: {c.json().get('error')} ({c.json().get('code')})")
                confirm = c.json()
        status = (await api.post(f"{API}/checkout/status", json={"order_id": created["order_id"]})).json()
        if status["status"] != "completed":
            raise DemoFailed(f"order ended {status['status']}")
        booking_ids = status["booking_ids"]
        canceled: list[dict[str, Any]] = []
        if opts.cancel:
            with console.status("Canceling the session (the client's cancel, under its policy)…"):
                for bid in booking_ids:
                    r = await api.post(f"{API}/bookings/{bid}/cancel", json={"reason": "demo --cancel"})
                    if r.status_code != 200:
                        raise DemoFailed(f"cancel: {r.json().get('error')} ({r.json().get('code')})")
                    canceled.append(r.json())
                status = (
                    await api.post(f"{API}/checkout/status", json={"order_id": created["order_id"]})
                ).json()
            refunded = sum(c["refund"]["card_cents"] + c["refund"]["credit_cents"] for c in canceled)
            console.print(f"[green]✓[/] canceled, {_money(refunded)} refunded")

    workflows = await _workflow_states(settings, booking_ids, console, finished=bool(canceled))
    _summary(console, kind, quote, created, status, confirm, workflows, booking_ids, canceled)
    return {"order": status, "workflows": workflows, "canceled": canceled}


async def _workflow_states(
    settings: Settings, booking_ids: list[int], console: Console, *, finished: bool = False
) -> dict[int, str]:
    """Each booking's workflow at Temporal; with `finished`, waits (briefly) for it to end, as a
    canceled booking's workflow does once the outbox relay has signaled it."""
    if not booking_ids:
        return {}
    from temporalio.client import Client

    from estuary_checkout.workflows.types import booking_workflow_id

    out: dict[int, str] = {}
    try:
        client = await asyncio.wait_for(
            Client.connect(settings.temporal_address, namespace=settings.temporal_namespace), 5
        )
    except Exception as exc:
        console.print(f"[yellow]•[/] Temporal not reachable ({exc}); workflows not shown")
        return {}
    with console.status("Waiting for the booking workflow to start (outbox relay)…"):
        deadline = time.monotonic() + 20
        for bid in booking_ids:
            while True:
                try:
                    desc = await client.get_workflow_handle(booking_workflow_id(bid)).describe()
                    out[bid] = desc.status.name if desc.status else "UNKNOWN"
                    if finished and out[bid] == "RUNNING" and time.monotonic() < deadline:
                        await asyncio.sleep(0.5)
                        continue
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        out[bid] = "not started yet"
                        break
                    await asyncio.sleep(0.5)
    return out


def _summary(
    console: Console,
    kind: str,
    quote: dict[str, Any],
    created: dict[str, Any],
    status: dict[str, Any],
    confirm: dict[str, Any],
    workflows: dict[int, str],
    booking_ids: list[int],
    canceled: list[dict[str, Any]],
) -> None:
    table = Table(title=f"Estuary Checkout demo: {kind}", show_header=False)
    cur = quote["currency"]
    for label, key in (
        ("subtotal", "subtotal_cents"),
        ("discount", "discount_cents"),
        ("tax", "tax_cents"),
        ("store credit", "credits_applied_cents"),
        ("total charged", "total_cents"),
    ):
        table.add_row(label, _money(quote[key], cur))
    table.add_row("order", created["order_id"])
    table.add_row("payment intent", created["payment_intent_id"] or "none (nothing to charge)")
    table.add_row("status", f"[green]{status['status']}[/] (payment {status['payment_status']})")
    table.add_row("bookings", ", ".join(map(str, booking_ids)) or "none (a pass was granted)")
    for c in canceled:
        refund = c["refund"]
        table.add_row(f"booking {c['booking_id']}", "[yellow]canceled[/]")
        table.add_row("refunded to card", _money(refund["card_cents"], cur))
        table.add_row("refunded to store credit", _money(refund["credit_cents"], cur))
    for bid, state in workflows.items():
        table.add_row(f"workflow booking-lifecycle-{bid}", state)
    console.print(table)
