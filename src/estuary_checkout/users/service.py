"""Users are created on first sight of a token's `sub`."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.auth.service import Claims
from estuary_checkout.users import repository
from estuary_checkout.users.errors import UserNotFound
from estuary_checkout.users.models import User


async def get_or_create(session: AsyncSession, *, sub: str, email: str | None, roles: list[str]) -> User:
    user = await repository.get_by_external_id(session, sub)
    if user is None:
        try:
            async with session.begin_nested():
                user = User(external_id=sub, email=email, roles=roles)
                session.add(user)
                await session.flush()
        except IntegrityError:
            # another request created it first
            user = await repository.get_by_external_id(session, sub)
            assert user is not None
    changed = False
    if email and user.email != email:
        user.email = email
        changed = True
    if sorted(user.roles or []) != sorted(roles):
        user.roles = list(roles)
        changed = True
    if changed:
        await session.flush()
    return user


async def from_claims(session: AsyncSession, claims: Claims) -> User:
    return await get_or_create(session, sub=claims.sub, email=claims.email, roles=list(claims.roles))


def demo_sub(email: str) -> str:
    """The `sub` the token command gives a demo user: stable, derived from the email."""
    return f"demo|{email.lower()}"


async def find(session: AsyncSession, *, user_id: int | None = None, email: str | None = None) -> User:
    """A user by id or by email (any case; the oldest account if an email is on several);
    UserNotFound if there is none."""
    user = None
    if user_id is not None:
        user = await repository.get(session, user_id)
    elif email is not None:
        user = await repository.get_by_email_any_case(session, email)
    if user is None:
        raise UserNotFound(details={"user_id": user_id} if user_id is not None else {"user_email": email})
    return user
