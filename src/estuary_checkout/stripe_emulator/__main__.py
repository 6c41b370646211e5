"""``python -m estuary_checkout.stripe_emulator`` (same options as the CLI command)."""

from __future__ import annotations

import argparse

from .server import run_emulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="stripe-emulator", description="Run the Stripe API emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-secret")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--drop-rate", type=float, default=0.0)
    parser.add_argument("--fault-route")
    args = parser.parse_args(argv)
    run_emulator(
        host=args.host,
        port=args.port,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        fault_route=args.fault_route,
    )


if __name__ == "__main__":
    main()
