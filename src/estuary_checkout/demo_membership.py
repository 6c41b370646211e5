"""`estuary-checkout demo --checkout-type membership`: a membership's first two months, on a
Stripe test clock (test mode only).

plans → subscribe → pay the first invoice with its confirmation secret (what Stripe.js does) →
the webhook makes it active and grants the first period's credits → the test clock moves one
month on → Stripe renews, charges the saved card, the webhook grants the second period (with the
unused credits carried over up to the plan's cap).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from estuary_checkout.config import Settings
from estuary_checkout.currencies import format_money

API = "/stripe/fastapi/api/v1/stripe"
PLAN_NAME = "Monthly Flow"
WAIT_SECONDS = 30


class MembershipDemoFailed(Exception):
    pass


async def _clock_customer(settings: Settings, email: str, stripe_base: str) -> tuple[str, datetime]:
    """A fresh test clock at now and a Stripe customer on it for the demo user (their earlier
    customer is replaced: the demo's card and renewals then run on the clock's time)."""
    from sqlalchemy import update

    from estuary_checkout.db.session import make_engine, make_session_factory, session_scope
    from estuary_checkout.users import repository as users_repo
    from estuary_checkout.users.models import User

    now = datetime.now(UTC).replace(microsecond=0)
    auth = (settings.stripe_secret_key, "")
    async with httpx.AsyncClient(base_url=stripe_base, timeout=30, auth=auth) as stripe:
        clock = (
            (
                await stripe.post(
                    "/v1/test_helpers/test_clocks", data={"frozen_time": int(now.timestamp()), "name": "demo"}
                )
            )
            .raise_for_status()
            .json()
        )
        customer = (
            (await stripe.post("/v1/customers", data={"email": email, "test_clock": clock["id"]}))
            .raise_for_status()
            .json()
        )
    engine = make_engine(settings.database_url)
    try:
        async for session in session_scope(make_session_factory(engine)):
            user = await users_repo.get_by_email(session, email)
            if user is None:
                raise MembershipDemoFailed(f"no user {email}")
            await session.execute(
                update(User).where(User.id == user.id).values(stripe_customer_id=customer["id"])
            )
    finally:
        await engine.dispose()
    return clock["id"], now


async def _wait(api: httpx.AsyncClient, membership_id: int, what: str, done: Any) -> dict[str, Any]:
    """Poll the membership until `done(view)`: the webhook (emulator → API) applies what Stripe did."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        view = (await api.get(f"{API}/memberships/{membership_id}")).raise_for_status().json()
        if done(view):
            return view  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise MembershipDemoFailed(
                f"{what}: still {view['status']} after {WAIT_SECONDS} s (is the API receiving webhooks?)"
            )
        await asyncio.sleep(0.3)


async def _grants(api: httpx.AsyncClient, membership_id: int) -> list[dict[str, Any]]:
    passes = (await api.get(f"{API}/passes", params={"limit": 100})).raise_for_status().json()["data"]
    return sorted((p for p in passes if p["membership_id"] == membership_id), key=lambda p: p["expires_at"])


async def run_membership_demo(
    settings: Settings, token: str, email: str, api_url: str, card: str, console: Console
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api_url, timeout=30, headers=headers) as api:
        cfg = (await api.get(f"{API}/config")).raise_for_status().json()
        stripe_base = cfg.get("stripe_api_base") or settings.stripe_api_base
        plans = (await api.get(f"{API}/membership-plans")).raise_for_status().json()["data"]
        plan = next((p for p in plans if p["name"] == PLAN_NAME), None)
        if plan is None:
            raise MembershipDemoFailed(f"no plan {PLAN_NAME!r} on offer (run `estuary-checkout seed-demo`)")
        # an earlier run's membership ends first: one live membership per plan
        for m in (await api.get(f"{API}/memberships", params={"limit": 100})).json()["data"]:
            if m["plan_id"] == plan["id"] and m["status"] not in ("canceled", "incomplete_expired"):
                await api.post(
                    f"{API}/memberships/{m['membership_id']}/cancel", json={"at_period_end": False}
                )
        with console.status("Starting a Stripe test clock for the demo customer…"):
            clock, t0 = await _clock_customer(settings, email, stripe_base)
        console.print(f"[green]✓[/] test clock {clock} at {t0:%Y-%m-%d %H:%M} UTC")

        with console.status(f"Subscribing to {PLAN_NAME}…"):
            r = await api.post(f"{API}/memberships", json={"plan_id": plan["id"]})
            if r.status_code != 201:
                raise MembershipDemoFailed(f"subscribe: {r.json().get('error')} ({r.json().get('code')})")
            created = r.json()
        mid = created["membership_id"]
        console.print(f"[green]✓[/] membership {mid} created ({created['status']})")

        with console.status(f"Paying the first invoice with {card} (confirmation secret, publishable key)…"):
            secret = created["client_secret"]
            async with httpx.AsyncClient(base_url=stripe_base, timeout=30) as browser:
                paid = await browser.post(
                    f"/v1/payment_intents/{secret.split('_secret_')[0]}/confirm",
                    data={"client_secret": secret, "payment_method": card},
                    auth=(cfg["publishable_key"], ""),
                )
            if paid.status_code >= 400:
                raise MembershipDemoFailed(f"card declined: {paid.json().get('error', {}).get('message')}")
            first = await _wait(
                api, mid, "first payment", lambda v: v["status"] == "active" and v["credits"]["available"] > 0
            )
        console.print(
            f"[green]✓[/] active; {first['credits']['available']} credits until {first['current_period_end'][:10]}"
        )

        period_end = datetime.fromisoformat(first["current_period_end"])
        to = period_end + timedelta(hours=1)
        with console.status(f"Advancing the test clock to {to:%Y-%m-%d %H:%M} (renewal)…"):
            async with httpx.AsyncClient(
                base_url=stripe_base, timeout=60, auth=(settings.stripe_secret_key, "")
            ) as stripe:
                (
                    await stripe.post(
                        f"/v1/test_helpers/test_clocks/{clock}/advance",
                        data={"frozen_time": int(to.timestamp())},
                    )
                ).raise_for_status()
            second = await _wait(
                api,
                mid,
                "renewal",
                lambda v: (
                    v["current_period_end"] != first["current_period_end"] and v["credits"]["available"] > 0
                ),
            )
        console.print(f"[green]✓[/] renewed; period now ends {second['current_period_end'][:10]}")
        grants = await _grants(api, mid)

    _summary(console, plan, second, grants)
    return {"membership": second, "grants": grants, "clock": clock}


def _summary(
    console: Console, plan: dict[str, Any], view: dict[str, Any], grants: list[dict[str, Any]]
) -> None:
    table = Table(title=f"Estuary Checkout demo: membership ({plan['name']})", show_header=False)
    table.add_row("membership", str(view["membership_id"]))
    table.add_row("price", f"{format_money(view['amount_cents'], view['currency'])} a {view['interval']}")
    table.add_row("status", f"[green]{view['status']}[/]")
    table.add_row(
        "plan",
        f"{plan['credits_per_period']} credits a period for services {', '.join(map(str, plan['eligible_service_ids']))}; rollover up to {plan['rollover_cap']}",
    )
    for n, g in enumerate(grants, 1):
        carried = g["sessions_total"] - plan["credits_per_period"]
        what = f"{g['sessions_total']} sessions" + (
            f" ({plan['credits_per_period']} + {carried} carried over)" if carried > 0 else ""
        )
        if g["status"] == "expired":  # closed when the next period was paid
            table.add_row(
                f"grant {n} (pass {g['pass_id']})",
                f"{what}, {g['sessions_left']} unused at renewal, ended {g['expires_at'][:10]}",
            )
        else:
            table.add_row(
                f"grant {n} (pass {g['pass_id']})",
                f"{what}, {g['sessions_left']} left, {g['status']}, ends {g['expires_at'][:10]}",
            )
    table.add_row("credits usable now", str(view["credits"]["available"]))
    table.add_row("current period ends", view["current_period_end"][:16].replace("T", " "))
    console.print(table)
