"""Payment-link fixtures: the checkout battery's users and replicas."""

from tests.checkout.conftest import factory, new_user, replicas  # noqa: F401
