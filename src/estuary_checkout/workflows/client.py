"""A lazily connected Temporal client shared by the API and the worker."""

from __future__ import annotations

import asyncio

from temporalio.client import Client


class TemporalConnector:
    def __init__(self, address: str, namespace: str) -> None:
        self.address = address
        self.namespace = namespace
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def get(self, timeout: float = 5.0) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                self._client = await asyncio.wait_for(
                    Client.connect(self.address, namespace=self.namespace), timeout=timeout
                )
        return self._client

    def set_client(self, client: Client) -> None:
        self._client = client

    async def ping(self, timeout: float = 2.0) -> bool:
        try:
            client = await self.get(timeout=timeout)
            await asyncio.wait_for(client.service_client.check_health(), timeout=timeout)
            return True
        except Exception:
            return False
