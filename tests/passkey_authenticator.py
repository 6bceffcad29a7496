"""A software passkey for the tests: soft-webauthn's device, extended (issue 5, item 2).

`soft_webauthn.SoftWebauthnDevice` plays the authenticator and the browser
for one credential (an ECDSA P-256 key, "none" attestation): it answers
`navigator.credentials.create()` and `.get()` with raw bytes. It cannot set
the user-verified flag (UV, needed for a passwordless log-in), nor answer
for another origin, another RP ID or a wrong ceremony, nor replay a
counter. `SoftPasskey` keeps its key and registration and adds those: it
builds real authenticator data (WebAuthn Level 2, section 6.1) and signs it
with `cryptography`, as a hardware key would, and speaks the JSON of
`PublicKeyCredential.toJSON()` that a browser sends to Égide.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor  # type: ignore[import-untyped]
from fido2.cose import ES256  # type: ignore[import-untyped]
from soft_webauthn import SoftWebauthnDevice  # type: ignore[import-untyped]

#: Authenticator data flags (WebAuthn Level 2, section 6.1).
UP, UV, AT = 0x01, 0x04, 0x40


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _public_key_options(options_json: str) -> dict[str, Any]:
    """The JSON options Égide sends, as the bytes soft-webauthn expects."""
    options: dict[str, Any] = json.loads(options_json)
    options["challenge"] = unb64(options["challenge"])
    if "user" in options:
        options["user"] = {**options["user"], "id": unb64(options["user"]["id"])}
    return {"publicKey": options}


def _as_json(raw: dict[str, Any]) -> dict[str, Any]:
    """soft-webauthn's answer (bytes) as the browser's JSON (base64url)."""
    response = {k: b64(v) for k, v in raw["response"].items() if v is not None}
    return {
        "id": b64(raw["rawId"]),
        "rawId": b64(raw["rawId"]),
        "type": "public-key",
        "response": response,
        "clientExtensionResults": {},
    }


class SoftPasskey(SoftWebauthnDevice):  # type: ignore[misc]
    """One credential, answering at `origin` (the browser's address bar)."""

    def __init__(self, origin: str) -> None:
        super().__init__()
        self.origin = origin

    # Registration -------------------------------------------------------------

    def create_json(
        self,
        options_json: str,
        *,
        user_verified: bool = False,
        origin: str | None = None,
        rp_id: str | None = None,
        ceremony: str = "webauthn.create",
    ) -> dict[str, Any]:
        """Answer registration options. The plain case is soft-webauthn's own answer
        (user present, not verified); any other is built here."""
        options = _public_key_options(options_json)
        plain = not user_verified and origin is None and rp_id is None
        if plain and ceremony == "webauthn.create":
            return _as_json(self.create(options, self.origin))
        public = options["publicKey"]
        self.cred_init(public["rp"]["id"], public["user"]["id"])
        client_data = self._client_data(ceremony, public["challenge"], origin)
        flags = UP | AT | (UV if user_verified else 0)
        cose_key = cbor.encode(ES256.from_cryptography_key(self.private_key.public_key()))
        auth_data = (
            _sha256((rp_id or self.rp_id).encode())
            + bytes([flags])
            + struct.pack(">I", self.sign_count)
            + self.aaguid
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + cose_key
        )
        attestation = cbor.encode({"authData": auth_data, "fmt": "none", "attStmt": {}})
        return _as_json(
            {
                "rawId": self.credential_id,
                "response": {"clientDataJSON": client_data, "attestationObject": attestation},
            }
        )

    # Assertion ------------------------------------------------------------------

    def get_json(
        self,
        options_json: str,
        *,
        user_verified: bool = True,
        origin: str | None = None,
        rp_id: str | None = None,
        ceremony: str = "webauthn.get",
        sign_count: int | None = None,
        signing_key: ec.EllipticCurvePrivateKey | None = None,
    ) -> dict[str, Any]:
        """Answer assertion options as a discoverable passkey (user handle included),
        whether or not the options list it (the server must check).

        Without UV and with nothing altered, soft-webauthn answers itself;
        `sign_count` claims a counter (default: one more than the last),
        `signing_key` signs with another key (a forged answer)."""
        options = _public_key_options(options_json)
        public = options["publicKey"]
        altered = origin or rp_id or ceremony != "webauthn.get" or sign_count or signing_key
        if not user_verified and not altered:
            return _as_json(self.get(options, self.origin))
        if sign_count is None:
            self.sign_count += 1
            sign_count = self.sign_count
        client_data = self._client_data(ceremony, public["challenge"], origin)
        auth_data = (
            _sha256((rp_id or self.rp_id).encode())
            + bytes([UP | (UV if user_verified else 0)])
            + struct.pack(">I", sign_count)
        )
        key = signing_key or self.private_key
        signature = key.sign(auth_data + _sha256(client_data), ec.ECDSA(hashes.SHA256()))
        return _as_json(
            {
                "rawId": self.credential_id,
                "response": {
                    "authenticatorData": auth_data,
                    "clientDataJSON": client_data,
                    "signature": signature,
                    "userHandle": self.user_handle,
                },
            }
        )

    def _client_data(self, ceremony: str, challenge: bytes, origin: str | None) -> bytes:
        return json.dumps(
            {
                "type": ceremony,
                "challenge": b64(challenge),
                "origin": origin or self.origin,
                "crossOrigin": False,
            }
        ).encode()


def tamper_client_data(answer: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The answer with its clientDataJSON changed after signing (a man in the middle)."""
    client = json.loads(unb64(answer["response"]["clientDataJSON"]))
    client.update(changes)
    response = {**answer["response"], "clientDataJSON": b64(json.dumps(client).encode())}
    return {**answer, "response": response}
