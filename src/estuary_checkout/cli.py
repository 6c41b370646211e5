"""`estuary-checkout`: run the service and its parts, seed the demo catalog, mint tokens, demo a payment."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

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
        str, typer.Option("--checkout-type", help="session, bundle, package or membership")
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
    currency: Annotated[
        str | None,
        typer.Option("--currency", help="pay in this currency (the demo session: eur, gbp, jpy, kwd)"),
    ] = None,
    api_url: Annotated[str | None, typer.Option(help="default http://CHECKOUT_HOST:CHECKOUT_PORT")] = None,
) -> None:
    """Buy something end to end against the running dev stack and show what happened."""
    from estuary_checkout.demo import DemoFailed, DemoOptions, run_demo

    if checkout_type not in ("session", "bundle", "package", "membership"):
        raise typer.BadParameter(
            "choose session, bundle, package or membership", param_hint="--checkout-type"
        )
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
        currency=currency.lower() if currency else None,
        api_url=api_url or f"http://{settings.host}:{settings.port}",
    )
    try:
        token_value = asyncio.run(_token(user_email, False, 900))
        if checkout_type == "membership":
            from estuary_checkout.demo_membership import MembershipDemoFailed, run_membership_demo

            try:
                asyncio.run(run_membership_demo(settings, token_value, user_email, opts.api_url, card, out))
            except MembershipDemoFailed as exc:
                raise DemoFailed(str(exc)) from exc
        else:
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


catalog_app = typer.Typer(
    help="Import and export the catalog: practitioners, services, coupons (docs/catalog-format.md).",
    no_args_is_help=True,
)
app.add_typer(catalog_app, name="catalog")


@catalog_app.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a .yaml/.yml or .json file")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="check and show the changes; write nothing")
    ] = False,
) -> None:
    """Create or update the catalog from a file (matched by external id, coupons by code)."""
    from estuary_checkout.catalog.transfer import CatalogFileError, parse

    try:
        document = parse(file.read_text(encoding="utf-8"), as_json=file.suffix.lower() == ".json")
    except (CatalogFileError, UnicodeDecodeError) as exc:
        console.print(f"[red]✗[/] {escape(str(file))}: {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    raise typer.Exit(asyncio.run(_catalog_import(file.name, document, dry_run)))


@catalog_app.command("export")
def catalog_export(
    file: Annotated[Path | None, typer.Argument(dir_okay=False, help="default: YAML on stdout")] = None,
) -> None:
    """Write the whole catalog in the import format (JSON for a .json file, else YAML)."""
    from estuary_checkout.catalog.transfer import dump

    document = asyncio.run(_catalog_export())
    if document is None:
        raise typer.Exit(1)
    text = dump(document, as_json=file is not None and file.suffix.lower() == ".json")
    if file is None:
        sys.stdout.write(text)
        return
    file.write_text(text, encoding="utf-8")
    counts = ", ".join(f"{len(document[k])} {k}" for k in ("practitioners", "services", "coupons"))
    console.print(f"[green]✓[/] wrote {file}: {counts}")


async def _catalog_import(name: str, document: object, dry_run: bool) -> int:
    import uuid

    from rich.table import Table

    from estuary_checkout.audit.service import Actor
    from estuary_checkout.catalog.transfer_import import CatalogInvalid, describe, import_catalog
    from estuary_checkout.db.session import make_engine, make_session_factory
    from estuary_checkout.errors import AppError

    # every audit row of this run carries its id (SPEC 10.4's request_id)
    actor = Actor(sub="cli:import", request_id=f"import-{uuid.uuid4().hex[:12]}")
    engine = make_engine(get_settings().database_url)
    try:
        async with make_session_factory(engine)() as session:
            try:
                result = await import_catalog(session, document, actor=actor)
            except CatalogInvalid as exc:
                await session.rollback()
                console.print(f"[red]✗[/] {name}: {len(exc.problems)} problem(s), nothing written")
                for line in describe(exc.problems):
                    console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
                return 1
            except AppError as exc:
                await session.rollback()
                failure = f"{name}: {exc.message} {exc.details or ''}"
                console.print(f"[red]✗[/] {escape(failure)}, nothing written", soft_wrap=True)
                return 1
            if dry_run:
                await session.rollback()
            else:
                await session.commit()
    finally:
        await engine.dispose()
    table = Table(title=f"catalog import {name}" + (" (dry run: nothing written)" if dry_run else ""))
    for column in ("", "created", "updated", "unchanged"):
        table.add_column(column, justify="left" if not column else "right")
    for section, tally in result.tallies.items():
        table.add_row(section, str(tally.created), str(tally.updated), str(tally.unchanged))
    Console().print(table)
    if not dry_run:
        console.print(f"[green]✓[/] committed; audit rows: actor {actor.sub}, request_id {actor.request_id}")
    return 0


async def _catalog_export() -> dict[str, Any] | None:
    from estuary_checkout.catalog.transfer import ExportIncomplete, export_catalog
    from estuary_checkout.db.session import make_engine, make_session_factory

    engine = make_engine(get_settings().database_url)
    try:
        async with make_session_factory(engine)() as session:
            return await export_catalog(session)
    except ExportIncomplete as exc:
        console.print(
            f"[red]✗[/] a file names rows by external_id; set one on these first: {', '.join(exc.missing)}",
            soft_wrap=True,
        )
        return None
    finally:
        await engine.dispose()


events_app = typer.Typer(help="Outbound events to the host platform (SPEC 12.1).", no_args_is_help=True)
app.add_typer(events_app, name="events")


@events_app.command("listen")
def events_listen(
    port: Annotated[int, typer.Option(help="local port to receive on")] = 9009,
    api: Annotated[
        str | None, typer.Option(help="the running service (default http://CHECKOUT_HOST:CHECKOUT_PORT)")
    ] = None,
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="only this event type (repeatable; default all)")
    ] = None,
    show_json: Annotated[bool, typer.Option("--json", help="print each event's whole body")] = False,
) -> None:
    """Register a temporary endpoint on the running dev service and print each verified event."""
    settings = get_settings()
    if settings.env == "production":
        console.print("[red]✗[/] events listen is for development: register a real endpoint instead")
        raise typer.Exit(2)
    try:
        asyncio.run(
            _events_listen(
                port, api or f"http://{settings.host}:{settings.port}", event_type or [], show_json
            )
        )
    except KeyboardInterrupt:
        pass


async def _events_listen(port: int, api: str, types: list[str], show_json: bool) -> None:
    import httpx

    from estuary_checkout.auth.service import create_token
    from estuary_checkout.events.listen import Listener, ListenFailed

    token = create_token(get_settings(), sub="cli:events-listen", roles=["admin"], ttl_seconds=12 * 3600)
    stop = asyncio.Event()  # never set here: Ctrl-C stops the receiver, which ends the run
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        listener = Listener(client, Console(), port=port, event_types=types, show_json=show_json)
        try:
            await listener.run(stop)
        except (ListenFailed, httpx.HTTPError, OSError) as exc:
            console.print(f"[red]✗[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(1) from exc
        finally:  # Ctrl-C cancels the run: its cleanup has removed the endpoint by now
            if listener.secret is not None and listener.endpoint_id is None:
                console.print("[dim]endpoint removed; stopped[/]")


if __name__ == "__main__":
    app()
