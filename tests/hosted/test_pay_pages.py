"""The hosted pages in Chromium (SPEC 13.2): pay for a session through a link with a good card,
after a decline, through a 3-D Secure challenge; a coupon updating the breakdown; a used-up link;
a phone-sized screen; the demo-user sign-in; an open order paid on its own page. Each payment is
checked in the database too. Screenshots go to docs/img/ (shown in the README)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from tests.aftersale.helpers import around_the_clock, quarter_hour
from tests.checkout.helpers import API, db, make_coupon
from tests.hosted.conftest import shot

from estuary_checkout.links.models import PaymentLink
from estuary_checkout.orders.models import Order

FRAME = 'iframe[title="Secure payment input frame"]'
CHALLENGE = 'iframe[title="3D Secure authentication"]'
TIMEOUT = 20_000


async def make_link(served, admin, factory, **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    pid, sid = await around_the_clock(factory, price=12000)
    async with db(factory) as s:  # what a practitioner's page would say
        from estuary_checkout.catalog.models import Practitioner, Service

        practitioner = await s.get(Practitioner, pid)
        service = await s.get(Service, sid)
        assert practitioner is not None and service is not None
        practitioner.name = "Maya Chen"
        service.name = "Deep Tissue Massage"
        service.description = "Sixty minutes of focused work on tight shoulders and back."
    async with httpx.AsyncClient(base_url=served.url) as http:
        r = await http.post(
            f"{API}/admin/payment-links",
            json={"service_id": sid, "practitioner_id": pid, **body},
            headers=admin,
        )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def open_link(page, served, link, user) -> None:  # type: ignore[no-untyped-def]
    token = user.headers["Authorization"].removeprefix("Bearer ")
    await page.goto(f"{served.url}/stripe/fastapi/pay/{link['slug']}#token={token}")


async def pick_first_slot(page) -> None:  # type: ignore[no-untyped-def]
    await page.locator("#days .chip").first.click(timeout=TIMEOUT)
    await page.locator("#slots .chip").first.click()
    await page.wait_for_selector("#continue:not([hidden])", timeout=TIMEOUT)


async def type_card(page, number: str) -> None:  # type: ignore[no-untyped-def]
    frame = page.frame_locator(FRAME)
    await frame.get_by_label("Card number").fill(number, timeout=TIMEOUT)
    await frame.get_by_label("Expiration date").fill("12 / 34")
    await frame.get_by_label("Security code").fill("123")


async def continue_to_payment(page) -> None:  # type: ignore[no-untyped-def]
    await page.click("#continue")
    await page.wait_for_selector("#payment:not([hidden])", timeout=TIMEOUT)


async def to_the_card_form(page, served, admin, factory, new_user) -> Any:  # type: ignore[no-untyped-def]
    """A new link and client: the page opened, the first free time chosen, the order created."""
    link = await make_link(served, admin, factory)
    user = await new_user()
    await open_link(page, served, link, user)
    await pick_first_slot(page)
    await continue_to_payment(page)
    return user


async def pay_and_see_it_done(page, card: str) -> None:  # type: ignore[no-untyped-def]
    await type_card(page, card)
    await page.click("#pay-button")
    await page.wait_for_selector("#done:not([hidden])", timeout=TIMEOUT)


async def orders_of(factory, user_id: int) -> list[Order]:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        return list((await s.execute(select(Order).where(Order.user_id == user_id))).scalars())


async def test_pay_a_session_through_a_link(page, served, admin, factory, new_user):
    link = await make_link(
        served, admin, factory, after_completion={"type": "confirmation", "message": "See you soon!"}
    )
    user = await new_user()
    await open_link(page, served, link, user)
    await pick_first_slot(page)
    assert await page.inner_text("#breakdown dd.total") == "$130.50"  # 120.00 + 8.75 % tax
    await page.screenshot(path=shot("pay-link-offer.png"), full_page=True)
    await continue_to_payment(page)
    await type_card(page, "4242424242424242")
    await page.screenshot(path=shot("pay-link-card.png"), full_page=True)
    await page.click("#pay-button")
    await page.wait_for_selector("#done:not([hidden])", timeout=TIMEOUT)
    assert await page.inner_text("#done-message") == "See you soon!"
    await page.screenshot(path=shot("pay-link-done.png"), full_page=True)
    (order,) = await orders_of(factory, user.id)
    assert (order.status, order.total_cents, order.payment_link_id) == ("completed", 13050, link["id"])
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_declined_card_then_a_good_one(page, served, admin, factory, new_user):
    user = await to_the_card_form(page, served, admin, factory, new_user)
    await type_card(page, "4000000000000002")
    await page.click("#pay-button")
    message = page.locator("#message.error")
    await message.wait_for(timeout=TIMEOUT)
    assert "declined" in (await message.inner_text()).lower()
    await page.screenshot(path=shot("pay-link-declined.png"), full_page=True)
    await pay_and_see_it_done(page, "4242424242424242")
    (order,) = await orders_of(factory, user.id)
    assert order.status == "completed"


async def test_a_3d_secure_challenge(page, served, admin, factory, new_user):
    user = await to_the_card_form(page, served, admin, factory, new_user)
    await type_card(page, "4000002500003155")
    await page.click("#pay-button")
    challenge = page.frame_locator(CHALLENGE)
    button = challenge.get_by_role("button", name="Complete authentication")
    await button.wait_for(timeout=TIMEOUT)
    await page.screenshot(path=shot("pay-link-3ds.png"), full_page=True)
    await button.click()
    await page.wait_for_selector("#done:not([hidden])", timeout=TIMEOUT)
    (order,) = await orders_of(factory, user.id)
    assert order.status == "completed"


async def test_a_coupon_updates_the_breakdown_and_the_redirect_follows(
    page, served, admin, factory, new_user
):
    async with db(factory) as s:
        code = await make_coupon(s, percent_off=25)
    target = f"{served.url}/stripe/fastapi/stripe/health"  # any page of ours stands for the host's
    link = await make_link(
        served, admin, factory, after_completion={"type": "redirect", "url": "http://localhost/x"}
    )
    async with db(factory) as s:  # the link's redirect, to a page this test can load
        await s.execute(
            update(PaymentLink)
            .where(PaymentLink.id == link["id"])
            .values(after_completion={"type": "redirect", "url": target, "message": None})
        )
    user = await new_user()
    await open_link(page, served, link, user)
    await pick_first_slot(page)
    await page.fill("#coupon", code)
    await page.click("#coupon-form button")
    from playwright.async_api import expect

    await expect(page.locator("#breakdown dd.total")).to_have_text("$97.88", timeout=TIMEOUT)
    assert await page.inner_text('#breakdown dd[data-amount="discount_cents"]') == "− $30.00"
    await continue_to_payment(page)
    await type_card(page, "4242424242424242")
    await page.click("#pay-button")
    await page.wait_for_url(target, timeout=TIMEOUT)
    (order,) = await orders_of(factory, user.id)
    assert (order.status, order.discount_cents) == ("completed", 3000)


async def test_a_used_up_link_says_so(page, served, admin, factory):
    link = await make_link(served, admin, factory, max_completed=1, inactive_message="This class is full.")
    async with db(factory) as s:
        await s.execute(update(PaymentLink).where(PaymentLink.id == link["id"]).values(completed_count=1))
    response = await page.goto(f"{served.url}/stripe/fastapi/pay/{link['slug']}")
    assert response is not None and response.status == 410
    assert await page.inner_text("h1") == "Not available"
    assert await page.inner_text("p.lead") == "This class is full."
    await page.screenshot(path=shot("pay-link-unavailable.png"), full_page=True)


async def test_a_phone_screen_and_the_demo_sign_in(browser, served, admin, factory):
    link = await make_link(served, admin, factory)
    context = await browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2)
    page = await context.new_page()
    try:
        await page.goto(f"{served.url}/stripe/fastapi/pay/{link['slug']}")
        await page.get_by_role("button", name="Continue as demo user").click()
        await pick_first_slot(page)
        await page.keyboard.press("Tab")  # the keyboard reaches the next control, with a visible ring
        focused = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert focused == "solid"
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375  # nothing wider than the phone
        await page.screenshot(path=shot("pay-link-phone.png"), full_page=True)
    finally:
        await context.close()


async def test_an_open_order_is_paid_on_its_own_page(page, served, admin, factory, new_user):
    link = await make_link(served, admin, factory)
    user = await new_user()
    start = quarter_hour(timedelta(days=3))
    async with httpx.AsyncClient(base_url=served.url) as http:
        created = (
            await http.post(
                f"{API}/links/{link['slug']}/checkout",
                json={"start_time": start.isoformat(), "end_time": (start + timedelta(hours=1)).isoformat()},
                headers=user.headers,
            )
        ).json()
    token = user.headers["Authorization"].removeprefix("Bearer ")
    await page.goto(f"{served.url}/stripe/fastapi/checkout/{created['order_id']}#token={token}")
    await page.wait_for_selector("#payment:not([hidden])", timeout=TIMEOUT)
    assert "$130.50" in await page.inner_text("#summary")
    await pay_and_see_it_done(page, "4242424242424242")
    async with db(factory) as s:
        order = await s.get(Order, uuid.UUID(created["order_id"]))
        assert order is not None and order.status == "completed"


async def test_an_offer_in_yen_and_in_dinars(page, served, admin, app_state):  # app_state: the demo catalog
    """The demo session sold in JPY (no minor unit) and KWD (three): the page shows the worked
    numbers of SPEC 14 by the digits Stripe counts, not a browser's guess."""
    for currency, total, tax in (("jpy", "¥16,313", "¥1,313"), ("kwd", "KWD 38.060", "KWD 3.060")):
        async with httpx.AsyncClient(base_url=served.url) as http:
            r = await http.post(
                f"{API}/admin/payment-links",
                json={"service_id": 123, "practitioner_id": 456, "currency": currency},
                headers=admin,
            )
        assert r.status_code == 201, r.text
        await page.goto(f"{served.url}/stripe/fastapi/pay/{r.json()['slug']}")  # not signed in: the offer
        from playwright.async_api import expect

        await expect(page.locator("#breakdown dd.total")).to_have_text(
            total.replace(" ", "\xa0"), timeout=TIMEOUT
        )
        assert await page.inner_text('#breakdown dd[data-amount="tax_cents"]') in (
            tax,
            tax.replace(" ", "\xa0"),
        )
