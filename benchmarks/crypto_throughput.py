"""EGS1 throughput against its references: raw AES-256-GCM and the disk (dd).

    python benchmarks/crypto_throughput.py [--size-mib 1024] [--dir PATH]

Measures, in one run and on the same 1 MiB random buffers:

1. raw AES-256-GCM encryption and decryption of 64 KiB segments (AESGCM),
   the ceiling for any format built on it;
2. EGS1 encryption through StreamSealer into the local blob store (the
   vault's write path: partial file, fsync, hard-link publication);
3. `dd if=/dev/zero bs=1M conv=fdatasync` into the same directory, the
   ceiling of the disk;
4. EGS1 decryption through StreamOpener reading that blob through the blob
   store's reader (pread; the blob is in the page cache, so this is the CPU path).

Each measure runs `--repeat` times (default 3), disk measures interleaved,
and the median is reported. Targets: encrypt+store reaches 70 % of dd, decrypt 50 % of raw AES-GCM
decryption. Figures are MB/s of plaintext (10^6 bytes per second, as dd
prints them). The exit code is 0 whatever the result: this is a measurement.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from egide.core.blobstore import LocalBlobStore
from egide.core.crypto import egs1
from egide.core.crypto.keys import generate_key
from egide.core.types import Secret

MIB = 1 << 20
SEGMENT = egs1.DEFAULT_SEGMENT_SIZE
#: Distinct random buffers, cycled: enough to defeat any caching of inputs,
#: without holding the whole size in memory.
POOL = 32


def mb_per_s(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def buffers(pool: list[bytes], count: int) -> Iterator[bytes]:
    for i in range(count):
        yield pool[i % len(pool)]


def raw_aes_gcm(pool: list[bytes], count: int) -> tuple[float, float]:
    """(encrypt, decrypt) MB/s of bare AESGCM over 64 KiB segments."""
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    aad = b"\0" * egs1.HEADER_SIZE
    nonces = [i.to_bytes(12, "big") for i in range(MIB // SEGMENT)]
    start = time.perf_counter()
    for chunk in buffers(pool, count):
        view = memoryview(chunk)
        for k, nonce in enumerate(nonces):
            aead.encrypt(nonce, view[k * SEGMENT : (k + 1) * SEGMENT], aad)
    encrypt = mb_per_s(count * MIB, time.perf_counter() - start)
    sealed = [
        [aead.encrypt(n, chunk[k * SEGMENT : (k + 1) * SEGMENT], aad) for k, n in enumerate(nonces)]
        for chunk in pool
    ]
    start = time.perf_counter()
    for i in range(count):
        for k, nonce in enumerate(nonces):
            aead.decrypt(nonce, sealed[i % len(sealed)][k], aad)
    decrypt = mb_per_s(count * MIB, time.perf_counter() - start)
    return encrypt, decrypt


def egs1_encrypt_to_store(
    pool: list[bytes], count: int, store: LocalBlobStore, dek: Secret
) -> tuple[str, float]:
    """MB/s of StreamSealer into the blob store: write, fsync, publish (the write path)."""
    start = time.perf_counter()
    sealer = egs1.StreamSealer(dek, SEGMENT)
    key = store.new_key()
    with store.create(key) as writer:
        writer.write(sealer.header)
        for chunk in buffers(pool, count):
            for segment in sealer.update(chunk):
                writer.write(segment)
        writer.write(sealer.finish())
        writer.commit()
    return key, mb_per_s(count * MIB, time.perf_counter() - start)


def egs1_decrypt_from_store(store: LocalBlobStore, key: str, dek: Secret) -> float:
    """MB/s of StreamOpener reading and authenticating a whole blob from the store."""
    blob_size = store.stat(key).size  # the database records it; here the store is trusted
    with store.open(key) as reader:
        start = time.perf_counter()
        opener = egs1.StreamOpener(dek, reader, expected_blob_size=blob_size)
        total = sum(len(piece) for piece in opener.iter_plaintext())
        seconds = time.perf_counter() - start
    return mb_per_s(total, seconds)


def dd_rate(count: int, path: Path) -> float:
    """MB/s of dd writing `count` MiB of zeros with fdatasync, read from its report."""
    dd = shutil.which("dd") or "dd"
    start = time.perf_counter()
    result = subprocess.run(
        [dd, "if=/dev/zero", f"of={path}", "bs=1M", f"count={count}", "conv=fdatasync"],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - start
    # "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 3.68 s, 292 MB/s": bytes and seconds.
    match = re.search(r"^(\d+) bytes.*copied, ([\d.,]+) s", result.stderr, re.MULTILINE)
    if match:
        return mb_per_s(int(match.group(1)), float(match.group(2).replace(",", ".")))
    return mb_per_s(count * MIB, seconds)


def verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio >= target else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=1024, help="data per measure (MiB)")
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()), help="where files are written"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure (median)")
    args = parser.parse_args()
    count: int = args.size_mib
    pool = [os.urandom(MIB) for _ in range(min(POOL, count))]

    runs = [raw_aes_gcm(pool, count) for _ in range(args.repeat)]
    enc_raw = statistics.median(run[0] for run in runs)
    dec_raw = statistics.median(run[1] for run in runs)
    dd_runs: list[float] = []
    store_runs: list[float] = []
    dec_runs: list[float] = []
    workdir = Path(tempfile.mkdtemp(prefix="egide-bench-", dir=args.dir))
    store = LocalBlobStore(workdir / "blobs")
    store.initialise()
    try:
        # Alternate dd and EGS1 writes: a virtual disk's rate drifts from one
        # run to the next, and interleaving exposes both to the same drift.
        for _ in range(args.repeat):
            zeros = workdir / "dd.bin"
            dd_runs.append(dd_rate(count, zeros))
            zeros.unlink()
            dek = generate_key()
            key, rate = egs1_encrypt_to_store(pool, count, store, dek)
            store_runs.append(rate)
            dec_runs.append(egs1_decrypt_from_store(store, key, dek))
            store.delete(key)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    dd = statistics.median(dd_runs)
    enc_store = statistics.median(store_runs)
    dec = statistics.median(dec_runs)

    store_ratio, decrypt_ratio = enc_store / dd, dec / dec_raw
    print(
        f"EGS1 throughput, {count} MiB per measure, median of {args.repeat} runs, "
        f"files in {args.dir}"
    )
    print(f"{'measure':<50}{'MB/s':>10}")
    for label, value in (
        ("raw AES-256-GCM encrypt (64 KiB segments)", enc_raw),
        ("raw AES-256-GCM decrypt (64 KiB segments)", dec_raw),
        ("dd bs=1M conv=fdatasync", dd),
        ("EGS1 encrypt + LocalBlobStore (fsync, publish)", enc_store),
        ("EGS1 decrypt from LocalBlobStore (page cache)", dec),
    ):
        print(f"{label:<50}{value:>10.0f}")
    runs_text = ", ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(dd_runs, store_runs, strict=True))
    print(f"runs, dd/EGS1 store MB/s: {runs_text}")
    print()
    print(f"{'ratio':<44}{'value':>10}{'target':>9}  result")
    print(f"{'encrypt+store / dd':<44}{store_ratio:>10.2f}{'>= 0.70':>9}  ", end="")
    print(verdict(store_ratio, 0.70))
    print(f"{'decrypt / raw AES-GCM decrypt':<44}{decrypt_ratio:>10.2f}{'>= 0.50':>9}  ", end="")
    print(verdict(decrypt_ratio, 0.50))


if __name__ == "__main__":
    main()
