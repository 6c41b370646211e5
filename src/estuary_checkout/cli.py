"""`estuary-checkout`: run the service and its parts, seed the demo catalog, mint tokens, demo a payment."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from estuary_checkout.config import get_settings

app = typer.Typer(
    help="Estuary Checkout: payments and checkout for the Estuary marketplace.", no_args_is_help=True
)
console = Console(stderr=True)


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Apply database migrations (Alembic upgrade)."""
    from estuary_checkout.db.migrate import upgrade

    settings = get_settings()
    with console.status(f"Migrating {settings.database_url.split('@')[-1]} to {revision}…"):
        upgrade(settings.database_url, revision)
    console.print(f"[green]✓[/] database at {revision}")


async def _seed() -> dict[str, int]:
    from estuary_checkout.db.session import make_engine, make_session_factory, session_scope
    from estuary_checkout.seed import seed_demo

    engine = make_engine(get_settings().database_url)
    try:
        async for session in session_scope(make_session_factory(engine)):
            counts = await seed_demo(session)
        return counts
    finally:
        await engine.dispose()


@app.command("seed-demo")
def seed_demo() -> None:
    """Load the demo catalog (fixed ids; running it twice changes nothing)."""
    counts = asyncio.run(_seed())
    console.print("[green]✓[/] demo catalog: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


async def _token(email: str, admin: bool, ttl: int) -> str:
    from estuary_checkout.auth.service import create_token
    from estuary_checkout.db.session import make_engine, make_session_factory, session_scope
    from estuary_checkout.users import repository as users_repo
    from estuary_checkout.users import service as users_service

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        async for session in session_scope(make_session_factory(engine)):
            user = await users_repo.get_by_email(session, email)
            roles = ["admin"] if admin else list(user.roles or []) if user else []
            sub = user.external_id if user else users_service.demo_sub(email)
            await users_service.get_or_create(session, sub=sub, email=email, roles=roles)
    finally:
        await engine.dispose()
    return create_token(settings, sub=sub, email=email, roles=roles, ttl_seconds=ttl)


@app.command()
def token(
    user_email: Annotated[str, typer.Option("--user-email", help="the demo user's email")],
    admin: Annotated[bool, typer.Option("--admin", help="add the admin role")] = False,
    ttl: Annotated[int, typer.Option("--ttl", min=1, help="lifetime in seconds")] = 3600,
) -> None:
    """Print a bearer token for a user (created if missing); the token is the last line."""
    print(asyncio.run(_token(user_email, admin, ttl)))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default CHECKOUT_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default CHECKOUT_PORT")] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Run the API (uvicorn)."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "estuary_checkout.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


@app.command("stripe-emulator")
def stripe_emulator(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 12111,
    webhook_url: Annotated[str | None, typer.Option(help="deliver events to this URL")] = None,
    webhook_secret: Annotated[str | None, typer.Option(help="whsec_… secret to sign deliveries with")] = None,
    latency_ms: Annotated[int, typer.Option(help="added latency per request")] = 0,
    error_rate: Annotated[float, typer.Option(help="share of requests answered 500")] = 0.0,
    drop_rate: Annotated[float, typer.Option(help="share of connections dropped")] = 0.0,
    fault_route: Annotated[
        str | None, typer.Option(help="limit faults to one route, e.g. 'POST /v1/payment_intents'")
    ] = None,
    webhook_events: Annotated[
        str | None,
        typer.Option(
            help="comma-separated event types the webhook URL subscribes to (Stripe's enabled_events); "
            "'handled' = the ones this service handles; default: all"
        ),
    ] = None,
) -> None:
    """Run the Stripe emulator (dev/test only)."""
    from estuary_checkout.stripe_emulator import run_emulator

    run_emulator(
        host=host,
        port=port,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        latency_ms=latency_ms,
        error_rate=error_rate,
        drop_rate=drop_rate,
        fault_route=fault_route,
        webhook_events=_event_list(webhook_events),
    )


def _event_list(value: str | None) -> list[str] | None:
    if not value:
        return None
    if value.strip() == "handled":
        from estuary_checkout.webhooks.service import HANDLED_EVENTS

        return list(HANDLED_EVENTS)
    return [v.strip() for v in value.split(",") if v.strip()]


@app.command()
def worker() -> None:
    """Run the Temporal worker, the outbox relay and the reconciler."""
    from estuary_checkout.workflows.worker import main

    main()


@app.command()
def demo(
    user_email: Annotated[str, typer.Option("--user-email")] = "demo@example.com",
    checkout_type: Annotated[
        str, typer.Option("--checkout-type", help="session, bundle or package")
    ] = "session",
    card: Annotated[
        str, typer.Option(help="test card, e.g. pm_card_visa, pm_card_chargeDeclined")
    ] = "pm_card_visa",
    use_credits: Annotated[bool, typer.Option("--use-credits")] = False,
    coupon: Annotated[str | None, typer.Option("--coupon")] = None,
    save_card: Annotated[bool, typer.Option("--save-card")] = False,
    cancel: Annotated[
        bool, typer.Option("--cancel", help="then cancel the session and show the refund (sessions only)")
    ] = False,
    api_url: Annotated[str | None, typer.Option(help="default http://CHECKOUT_HOST:CHECKOUT_PORT")] = None,
) -> None:
    """Buy something end to end against the running dev stack and show what happened."""
    from estuary_checkout.demo import DemoFailed, DemoOptions, run_demo

    if checkout_type not in ("session", "bundle", "package"):
        raise typer.BadParameter("choose session, bundle or package", param_hint="--checkout-type")
    if cancel and checkout_type != "session":
        raise typer.BadParameter(
            "--cancel cancels a session: use it with --checkout-type session", param_hint="--cancel"
        )
    settings = get_settings()
    out = Console()
    opts = DemoOptions(
        user_email=user_email,
        checkout_type=checkout_type,
        card=card,
        use_credits=use_credits,
        coupon=coupon,
        save_card=save_card,
        cancel=cancel,
        api_url=api_url or f"http://{settings.host}:{settings.port}",
    )
    try:
        token_value = asyncio.run(_token(user_email, False, 900))
        asyncio.run(run_demo(settings, token_value, opts, out))
    except DemoFailed as exc:
        out.print(f"[red]✗ {exc}[/]")
        _exit_without_teardown(1)
    _exit_without_teardown(0)


def _exit_without_teardown(code: int) -> NoReturn:
    """End a short-lived command that used the Temporal client without interpreter teardown.

    The client's Rust runtime keeps native threads that can abort CPython's finalization
    ("PyGILState_Release: thread state … must be current", SIGABRT) after all the work is done
    (temporalio/sdk-python#300, seen once in CI on the demo). Everything is flushed first.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@app.command()
def dev(
    no_temporal: Annotated[
        bool, typer.Option("--no-temporal", help="do not start the Temporal dev server")
    ] = False,
) -> None:
    """Run the whole dev stack: Temporal, Stripe emulator, worker and API, with migrations and the demo catalog."""
    from estuary_checkout.devstack import run_dev_stack

    raise typer.Exit(run_dev_stack(start_temporal=not no_temporal))


if __name__ == "__main__":
    app()
