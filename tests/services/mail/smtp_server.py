"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, a free port, in a thread.

It records every message it accepted (envelope and parsed message), can
refuse chosen recipients (5xx for good, 4xx for now), require STARTTLS or
speak implicit TLS with a self-signed certificate made by the test, require
AUTH, and die in the middle of a batch (`die_after`: the server stops while
the client waits for the answer to the next MAIL FROM).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificate(directory: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost (also its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "egide test smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    session: int  # which connection delivered it
    tls: bool
    login: str | None


@dataclass
class _Handler:
    server: SmtpServer

    async def handle_MAIL(  # noqa: N802 - the hook names aiosmtpd calls
        self, _server: Any, _session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        owner = self.server
        if owner.die_after is not None and len(owner.received) >= owner.die_after:
            owner.die_after = None
            threading.Thread(target=owner.stop, daemon=True).start()
            await asyncio.sleep(30)  # cancelled by the stop: the client sees the server die
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(  # noqa: N802
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: list[str]
    ) -> str:
        if address in self.server.refuse:
            return "550 5.1.1 Mailbox unavailable"
        if address in self.server.defer:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        login = session.auth_data
        self.server.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                message=parsed,
                raw=raw,
                session=id(session),
                tls=session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
                login=login if isinstance(login, str) else None,
            )
        )
        return "250 2.0.0 Message accepted"


@dataclass
class SmtpServer:
    """The server; `start()` and `stop()` may be called again (same port)."""

    port: int = field(default_factory=free_port)
    certificate: Certificate | None = None
    implicit_tls: bool = False
    starttls: bool = False
    credentials: tuple[str, str] | None = None
    refuse: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)
    die_after: int | None = None
    received: list[Received] = field(default_factory=list)
    _controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> SmtpServer:
        kwargs: dict[str, Any] = {}
        if self.implicit_tls:
            assert self.certificate is not None
            kwargs["ssl_context"] = self.certificate.server_context()
        if self.starttls:
            assert self.certificate is not None
            kwargs["tls_context"] = self.certificate.server_context()
            kwargs["require_starttls"] = True
        if self.credentials is not None:
            kwargs["authenticator"] = self._authenticate
            # aiosmtpd counts only STARTTLS as TLS here: over implicit TLS, AUTH is offered
            # but not required (it would warn), and the tests check who logged in.
            kwargs["auth_required"] = self.starttls
            kwargs["auth_require_tls"] = self.starttls
        controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="smtp.test",
            **kwargs,
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        with self._lock:
            controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def _authenticate(
        self, _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and self.credentials is not None:
            user, password = self.credentials
            if data.login.decode() == user and data.password.decode() == password:
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    # What arrived ------------------------------------------------------------------

    def message_ids(self) -> list[str]:
        return [str(r.message["Message-ID"]) for r in self.received]
