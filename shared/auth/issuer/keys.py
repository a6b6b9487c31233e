"""The embedded issuer's own signing keys, kept in one JSON file readable by its owner only.

The file holds a private JWK set: the first key signs new tokens, and every key in it is published
at ``/auth/jwks.json``, so after ``rotate()`` tokens signed with the previous key stay valid until
they expire. The file is created on first use; a changed file (rotated by the CLI while the server
runs) is reloaded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from joserfc.jwk import ECKey, Key, KeyParameters, RSAKey, import_key

from shared.auth.jwks import is_signing_key

log = logging.getLogger(__name__)

KeyAlgorithm = Literal["ES384", "RS384"]
KEEP_KEYS = 2  # the signing key and the one it replaced


def generate_signing_key(algorithm: KeyAlgorithm = "ES384") -> Key:
    params: KeyParameters = {"use": "sig", "alg": algorithm}
    if algorithm == "RS384":
        return RSAKey.generate_key(3072, parameters=params, private=True, auto_kid=True)
    return ECKey.generate_key("P-384", parameters=params, private=True, auto_kid=True)


class IssuerKeys:
    def __init__(self, path: Path, *, algorithm: KeyAlgorithm = "ES384") -> None:
        self.path = path
        self.algorithm = algorithm
        self._keys: list[Key] = []
        self._public: list[Key] = []
        self._stamp: tuple[int, int, int] | None = None
        self._forced_at = float("-inf")

    def signing_key(self) -> Key:
        return self._load()[0]

    def verification_keys(self) -> list[Key]:
        """Public halves of every key in the file (the signing key first)."""
        self._load()
        return self._public

    async def key_for(self, kid: str) -> Key | None:
        """``JwksSource`` for the embedded verifier; an unknown kid re-reads the file (at most 1/s)."""
        key = next((k for k in self.verification_keys() if k.kid == kid), None)
        if key is None and time.monotonic() - self._forced_at >= 1.0:
            self._forced_at = time.monotonic()
            self._stamp = None  # a rotation within the file system's timestamp granularity
            key = next((k for k in self.verification_keys() if k.kid == kid), None)
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False) for key in self._load()]}

    def rotate(self) -> Key:
        """Start signing with a fresh key; keep the previous one published for tokens in flight."""
        keys = [generate_signing_key(self.algorithm), *self._load()][:KEEP_KEYS]
        self._write(keys, replace=True)
        return keys[0]

    def _load(self) -> list[Key]:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._write([generate_signing_key(self.algorithm)], replace=False)
            info = self.path.stat()
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        if stamp != self._stamp:
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                log.warning("issuer key file was readable by others; restricting it to its owner")
                self.path.chmod(0o600)
            self._keys = self._parse(json.loads(self.path.read_text()))
            self._public = [import_key(key.as_dict(private=False)) for key in self._keys]
            self._stamp = stamp
        return self._keys

    def _parse(self, document: Any) -> list[Key]:
        keys = [import_key(entry) for entry in (document or {}).get("keys", [])]
        if not keys or not all(key.is_private and is_signing_key(key) and key.kid for key in keys):
            raise ValueError(f"{self.path} holds no usable private RS384/ES384 signing keys")
        return keys

    def _write(self, keys: list[Key], *, replace: bool) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = json.dumps({"keys": [key.as_dict(private=True) for key in keys]})
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".issuer-key-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(document)
                handle.flush()
                os.fsync(handle.fileno())
            if replace:
                os.replace(tmp, self.path)
            else:
                # Another process (the CLI beside the server) may create it at the same moment:
                # link() fails if it exists, and then we use theirs.
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
