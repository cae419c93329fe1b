"""Real local peers for the provider tests: an SMTP server (aiosmtpd), a fake of Google's
OAuth token and FCM v1 send endpoints, and a generic SMS HTTP API. All on 127.0.0.1, each
in a thread of its own, so the providers talk to them over real sockets."""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import json
import socket
import ssl
import threading
import urllib.parse
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def free_port() -> int:
    """A port nobody listens on right now (aiosmtpd's readiness probe breaks with port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost that is its own CA; (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tidings test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


# --- SMTP ---------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    authenticated_as: str | None
    tls: bool
    peer: Any  # the client's (host, port): one per connection


@dataclass
class SmtpSink:
    """An aiosmtpd handler that keeps what it receives and answers RCPT as scripted."""

    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address -> reply line
    data_reply: str | None = None
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply is not None:
            return self.data_reply
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        login = session.auth_data.login.decode() if session.authenticated else None
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, login, tls, session.peer)
        )
        return "250 2.0.0 Ok: queued"

    def authenticator(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        ok = (auth_data.login, auth_data.password) == (b"mailer", b"s3cret-smtp-pass")
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


def start_smtp(sink: SmtpSink, **options: Any) -> Controller:
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return controller


# --- HTTP peers ---------------------------------------------------------------------------

Reply = tuple[int, dict[str, str], Any]  # status, headers, JSON body


class HttpPeer:
    """A threaded HTTP server; `route` answers each request (header names lower-cased),
    `requests` keeps them."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                status, headers, body = peer.route(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, raw
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.request_queue_size = 1024
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def route(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        raise NotImplementedError

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(entry)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmsApi(HttpPeer):
    """A generic SMS API: `script[to]` is a list of replies, consumed in turn (last repeats)."""

    api_key = "sms-key-0123456789"

    def __init__(self) -> None:
        super().__init__()
        self.script: dict[str, list[Reply]] = {}

    def route(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        body = json.loads(raw)
        self.record({"path": path, "headers": headers, "json": body})
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {}, {"error": {"code": "unauthorized"}}
        replies = self.script.get(body["to"])
        if replies:
            return replies.pop(0) if len(replies) > 1 else replies[0]
        return 201, {}, {"id": f"sms-{len(self.requests)}"}


GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


class FakeGoogle(HttpPeer):
    """Google's OAuth token endpoint (verifying the RS256 assertion against the service
    account's public key) and the FCM v1 send endpoint, scripted by registration token."""

    project = "tidings-test"
    client_email = "pusher@tidings-test.iam.gserviceaccount.com"

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        super().__init__()
        self.private_key = private_key
        self.script: dict[str, list[Reply]] = {}
        self.token_requests = 0
        self.refusals: list[str] = []
        self.issued: set[str] = set()
        self.attempts: dict[str, int] = {}

    def service_account(self) -> dict[str, str]:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": self.project,
            "private_key_id": "test-key-1",
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "1234567890",
            "token_uri": f"{self.url}/token",
        }

    def route(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        if path == "/token":
            return self._token(raw)
        if path == f"/v1/projects/{self.project}/messages:send":
            return self._send(headers, json.loads(raw))
        return 404, {}, {"error": {"code": 404, "message": "no such path", "status": "NOT_FOUND"}}

    def _token(self, raw: bytes) -> Reply:
        form = urllib.parse.parse_qs(raw.decode())
        try:
            assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
            claims = jwt.decode(
                form["assertion"][0],
                self.private_key.public_key(),
                algorithms=["RS256"],
                audience=GOOGLE_TOKEN_AUDIENCE,  # google-auth signs for Google's URI
                issuer=self.client_email,
            )
            assert "https://www.googleapis.com/auth/cloud-platform" in claims["scope"].split()
        except (AssertionError, KeyError, jwt.InvalidTokenError) as exc:
            self.refusals.append(repr(exc))
            return 400, {}, {"error": "invalid_grant", "error_description": "bad assertion"}
        with self.lock:
            self.token_requests += 1
            token = f"ya29.test-access-{self.token_requests}"
            self.issued.add(token)
        return 200, {}, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    def _send(self, headers: dict[str, str], body: dict[str, Any]) -> Reply:
        auth = headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.issued:
            return 401, {}, fcm_error(401, "UNAUTHENTICATED", "Request had invalid credentials.")
        token = body["message"].get("token", "")
        with self.lock:
            self.requests.append({"headers": headers, "json": body})
            self.attempts[token] = self.attempts.get(token, 0) + 1
            replies = self.script.get(token)
            if replies:
                return replies.pop(0) if len(replies) > 1 else replies[0]
            return 200, {}, {"name": f"projects/{self.project}/messages/{len(self.requests)}"}


def fcm_error(status: int, rpc_status: str, message: str, fcm_code: str | None = None) -> Any:
    """An error body shaped as FCM v1 sends it."""
    details = []
    if fcm_code is not None:
        details.append(
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}
        )
    return {"error": {"code": status, "message": message, "status": rpc_status, "details": details}}
