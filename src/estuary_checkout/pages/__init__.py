"""Hosted pages (SPEC 13.2): a payment link's offer and an open order's payment, rendered on the
server (Jinja2, autoescaped) with a little plain JavaScript and Stripe.js for the card."""
