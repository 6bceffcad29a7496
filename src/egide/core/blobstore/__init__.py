"""Blob stores: where encrypted contents live, under opaque, never-reused keys."""

from egide.core.blobstore.base import (
    BlobExists,
    BlobInfo,
    BlobNotFound,
    BlobReader,
    BlobStore,
    BlobStoreUnavailable,
    BlobWriter,
)
from egide.core.blobstore.local import LocalBlobStore

__all__ = [
    "BlobExists",
    "BlobInfo",
    "BlobNotFound",
    "BlobReader",
    "BlobStore",
    "BlobStoreUnavailable",
    "BlobWriter",
    "LocalBlobStore",
]
