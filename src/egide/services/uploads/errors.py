"""Errors of resumable uploads (typed; the web door maps them to tus status codes).

EgideError
├── InvalidInput
│   ├── InvalidChecksum         unknown algorithm or malformed digest    (400)
│   └── ChecksumMismatch        the body does not match Upload-Checksum  (460 in tus)
├── NotFound
│   └── UploadExpired           past its expiry; start a new upload      (404)
├── Conflict
│   └── OffsetMismatch          Upload-Offset is not the stored offset   (409)
└── TooLarge
    └── BeyondLength            the body would pass Upload-Length        (413)
"""

from __future__ import annotations

from egide.core.errors import Conflict, InvalidInput, NotFound, TooLarge


class InvalidChecksum(InvalidInput):
    code = "invalid-checksum"


class ChecksumMismatch(InvalidInput):
    code = "checksum-mismatch"


class UploadExpired(NotFound):
    code = "upload-expired"


class OffsetMismatch(Conflict):
    code = "offset-mismatch"


class BeyondLength(TooLarge):
    code = "beyond-upload-length"
