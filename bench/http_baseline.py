"""B6's peers and baseline: the service-account file that points firebase-admin at the fake,
the fakes' process (bench/http_fakes.py), and the bare httpx loop with the bodies it posts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench import servers
from bench.customers_page import BenchmarkError

PROJECT = "tidings-bench"
TITLE = "Your order has shipped"
BODY = "Your order 1234 is on its way."


def service_account(directory: Path, base: str) -> Path:
    """A service-account file whose token endpoint is the fake; the key is made here."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = directory / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "bench",
                "private_key": pem,
                "client_email": f"bench@{PROJECT}.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": f"{base}/token",
            }
        )
    )
    return path


@contextlib.asynccontextmanager
async def fakes() -> AsyncIterator[str]:
    port = servers.free_port()
    argv = [sys.executable, "-m", "bench.http_fakes", str(port)]
    env = {"PYTHONPATH": str(servers.REPO)}
    async with servers.running("FCM and SMS fakes", argv, env, port) as base:
        yield base


async def _bounded(jobs: list[Callable[[], Awaitable[None]]], in_flight: int) -> None:
    slots = asyncio.Semaphore(in_flight)

    async def one(job: Callable[[], Awaitable[None]]) -> None:
        async with slots:
            await job()

    await asyncio.gather(*(one(job) for job in jobs))


async def bare(client: httpx.AsyncClient, url: str, bodies: list[bytes], in_flight: int) -> None:
    async def post(body: bytes) -> None:
        response = await client.post(url, content=body)
        if response.status_code != 200:
            raise BenchmarkError(f"bare httpx: HTTP {response.status_code} from {url}")

    await _bounded([lambda body=body: post(body) for body in bodies], in_flight)


def fcm_body(token: str, n: int) -> bytes:
    """What firebase-admin posts for our push message (bench: a fixed delivery id per n)."""
    delivery = f"bare-{n}"
    return json.dumps(
        {
            "message": {
                "data": {"delivery_id": delivery},
                "notification": {"title": TITLE, "body": BODY},
                "android": {"notification": {"tag": delivery}},
                "apns": {"headers": {"apns-collapse-id": delivery}},
                "token": token,
            }
        }
    ).encode()


def sms_body(phone: str, n: int) -> bytes:
    return json.dumps(
        {"to": phone, "from": "Shop", "body": f"{TITLE}\n{BODY}", "reference": f"bare-{n}"}
    ).encode()
