"""HTTP throughput of `egide serve` beside nginx on loopback, in the same run.

    python benchmarks/http_throughput.py [--size-mib 1024] [--small-files 1000]
        [--listing-entries 10000] [--listing-requests 100] [--repeat 3]
        [--server uvicorn|uvicorn-h11|granian|all] [--client curl|httpx] [--dir PATH] [--smoke]

Sets up, in a temporary directory removed at exit: a vault (admin, a user
`bench`, a space `bench`, an API token with files:read and files:write, made
in-process through the services), a folder of `--listing-entries` files
(one file and copies of it, written in-process before the servers start:
much faster than HTTP), a random test file of `--size-mib` MiB, and servers
on free 127.0.0.1 ports:

- Égide: `egide serve` (uvicorn; httptools and uvloop when installed, which
  is uvicorn's "auto"), or a variant run by this script with the same app:
  uvicorn with the pure-Python h11 parser, or granian (ASGI);
- nginx (installed from Debian's packages with apt-get when missing, if
  that works), as a non-daemon child with a generated configuration: a
  static location serving the test file (sendfile on, as Debian ships it)
  and a WebDAV location accepting PUT to disk.

Then, each measure `--repeat` times (default 3; the median is reported), the
two sides interleaved so that both see the machine's drift:

1. one upload of the test file (PUT), then one download (GET), each side: MB/s;
2. `--small-files` uploads of a 10 KiB file, one after the other on one
   kept-alive connection: files/s;
3. `--listing-requests` GETs of the listing folder through the API, as one
   page holding every entry (`limit=10000`) and as the API's default first
   page (`limit` 1000): p50 and p99 in ms, client side, kept-alive
   connection. The names are encrypted: the first listing after the server
   starts decrypts and sorts all of them; the server keeps it, and each
   later request checks that it is still the listing (services/vault/
   listing.py: that nothing was committed since, or else the folder's rows
   as they are now). So two more figures, apart: that first listing
   (counted in the p50 and p99 too), and `LISTINGS_AFTER_A_CHANGE` listings
   each right after a rename in the folder (built again, names known but
   sorted and encoded anew).

The client is the same for both sides: curl (one process per measure,
writing to /dev/null and reading from the file; several requests in one
process reuse its connection), or httpx when curl is missing (`--client`).
Targets: Égide's download at least 40 % of nginx's, its upload at least 60 %
of nginx's PUT, a 10,000-entry listing's p99 under 100 ms (issue 3, item 8;
measured with antivirus scanning off). Figures are MB/s
of plaintext (10^6 bytes per second). The exit code is 0 whatever the
result: this is a measurement. `--smoke` runs tiny sizes (CI).

Antivirus (issue 8, item 5): when Debian's clamd is installed, a real clamd
is started as the tests start it (tests/clamd.py: own configuration, a tiny
signature database, its temporary directory on /dev/shm, StreamMaxLength
above the test file so that it is scanned whole, its cache of clean files
off so that each upload of the same test file is really scanned) and a
second `egide serve` on the same vault scans every upload with it. After
one upload of the big file (not counted), the big upload and the small
uploads are measured on both, interleaved: "antivirus off" against
"antivirus on", in the same run. Two figures for the big file with scanning
on: "answered" (the PUT's answer: over `antivirus_wait_max_bytes`, 4 MiB,
it comes once the file is stored, held for its uploader; ADR 29) and
"verdict in" (until its versions listing shows the verdict stored, polled
every 10 ms: when everyone may read it). clamd scans a stream only after
its last byte, so "verdict in" is bounded by clamd's own speed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.clamd

MIB = 1 << 20
SMALL_FILE = 10 * 1024
SPACE = "bench"
USER = "bench"
#: The API's largest page (`limit` of GET /nodes, web/api/tree.py) and its default.
WHOLE_PAGE = 10000
DEFAULT_PAGE = 1000
#: Listings measured each right after a rename in the folder.
LISTINGS_AFTER_A_CHANGE = 10
SERVERS = ("uvicorn", "uvicorn-h11", "granian")
NGINX = "/usr/sbin/nginx"
DOWNLOAD_TARGET, UPLOAD_TARGET, LISTING_P99_MS = 0.40, 0.60, 100.0
#: Bounds on waiting: a server's start, one request of the big file, a batch of small ones.
START_TIMEOUT = 60.0
BIG_TIMEOUT = 1800.0
BATCH_TIMEOUT = 1800.0


def mb_per_s(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (p99 of 100 values is the 99th smallest)."""
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


# Processes -------------------------------------------------------------------


class Children:
    """Processes this script started, each in its own session; all stopped at exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own process group: Ctrl-C reaches this script only, whose
                # `finally` stops the group (granian's workers included).
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=15)
            # Workers left in the group after their parent exited.
            _signal_group(proc, signal.SIGKILL)
        self.procs.clear()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)  # the group's id is the child's pid (start_new_session)


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so that SIGTERM runs the same clean-up as Ctrl-C


# The vault -------------------------------------------------------------------


def clean_env(data_dir: Path) -> dict[str, str]:
    """This environment without any EGIDE_* setting, on the benchmark's data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGIDE_")}
    env["EGIDE_DATA_DIR"] = str(data_dir)
    return env


def set_up_vault(data_dir: Path, listing_entries: int, servers: list[str], repeat: int) -> str:
    """Create the vault, user, space, folders and listing entries; return the API token."""
    from egide.core.config import Settings
    from egide.services.access.policy import GlobalRole, Principal, Scope
    from egide.services.registry import build_services, initialise

    # Set up in-process as an administrator would, with no second factor to
    # give for the benchmark's token; the servers run with the default policy.
    settings = Settings(data_dir=data_dir, mfa_required="none")
    initialise(settings)
    svc = build_services(settings)
    try:
        system = Principal.system()
        for name, roles in (("admin", [GlobalRole.ADMIN]), (USER, [])):
            svc.accounts.create_user(system, name, password=secrets.token_urlsafe(24), roles=roles)
        svc.spaces.create(system, SPACE, managers=[USER])
        user = svc.accounts.principal_for_username(USER)
        _, token = svc.accounts.create_token(
            user, "benchmark", [Scope.FILES_READ, Scope.FILES_WRITE]
        )
        svc.nodes.mkdir(user, SPACE, "listing")
        for server in servers:
            for run in range(repeat):
                svc.nodes.mkdir(user, SPACE, f"small/{server}/{run}", parents=True)
                svc.nodes.mkdir(user, SPACE, f"small/av-{server}/{run}", parents=True)
        for run in range(repeat):
            svc.nodes.mkdir(user, SPACE, f"small/av-{AV_SIDE}/{run}", parents=True)
        # Names in no order, as people give them: the listing must really sort.
        # One file, then copies of it: a copy inside a space writes rows only (no
        # blob, one transaction), ten times faster than as many uploads.
        start = time.perf_counter()
        names = [f"Compte-rendu {secrets.token_hex(4)} {i}.pdf" for i in range(listing_entries)]
        if names:
            svc.files.write(user, SPACE, f"listing/{names[0]}", [b"%PDF-1.7 benchmark"])
        for name in names[1:]:
            svc.nodes.copy(user, SPACE, f"listing/{names[0]}", f"listing/{name}")
        if names:
            seconds = time.perf_counter() - start
            print(f"setup: {len(names)} listing entries written in-process in {seconds:.0f} s")
    finally:
        svc.close()
    return token


# Servers ---------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"{url} did not become ready; log {log}:\n{tail}")


def start_egide(
    children: Children,
    variant: str,
    data_dir: Path,
    workdir: Path,
    token: str,
    *,
    extra_env: dict[str, str] | None = None,
    name: str | None = None,
) -> Server:
    port = free_port()
    env = {**clean_env(data_dir), **(extra_env or {})}
    if variant == "uvicorn":
        command = [str(Path(sys.executable).with_name("egide")), "serve", "--port", str(port)]
    else:
        # The same app under another server, started by this script (see child_serve).
        command = [sys.executable, __file__, "--child-serve", variant, "--port", str(port)]
    log = workdir / f"egide-{name or variant}.log"
    proc = children.start(command, env, log)
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/readyz", proc, log)
    return Server(name or variant, url, {"Authorization": f"Bearer {token}"})


# Antivirus -------------------------------------------------------------------

#: The side name of `egide serve` with scanning on.
AV_SIDE = "uvicorn+clamd"


def start_scanning_egide(
    children: Children, data_dir: Path, workdir: Path, token: str, size: int
) -> tuple[Server, Any] | None:
    """A clamd as the tests run it, and `egide serve` scanning with it; None without clamd."""
    from tests.clamd import CLAMD, ClamdServer

    if not CLAMD.exists():
        print("clamd is not installed (apt-get install clamav-daemon): no antivirus line")
        return None
    limit = max(size + MIB, 100 * MIB)  # the whole file is scanned, never "too large"
    # No cache of clean files' hashes: every upload of the same test file is really
    # scanned, as a new file would be (with it, repeats answer in a hash's time).
    clamd = ClamdServer(stream_max=limit, cache=False).start()
    env = {
        "EGIDE_CLAMD_ADDRESS": clamd.address,
        "EGIDE_ANTIVIRUS_MAX_BYTES": str(limit),
        # No background rescan during the measures.
        "EGIDE_ANTIVIRUS_RESCAN_DAYS": "0",
        "EGIDE_ANTIVIRUS_RESCAN_INTERVAL_SECONDS": "86400",
    }
    try:
        side = start_egide(
            children, "uvicorn", data_dir, workdir, token, extra_env=env, name=AV_SIDE
        )
    except BaseException:
        clamd.close()
        raise
    return side, clamd


def measure_antivirus(
    client: Client, off: Server, on: Server, *, payload: Path, small: Path, args: argparse.Namespace
) -> Figures:
    """Uploads with scanning off and on, interleaved, `--repeat` times."""
    size = payload.stat().st_size
    figures = Figures()
    # Not counted: the first upload after clamd's start (its scan over before the next).
    warm_up = content_url(on, "av-warm-up.bin")
    client.put_file(warm_up, on.headers, payload)
    wait_for_verdict(on, warm_up)
    for run in range(args.repeat):
        for side in (off, on):
            url = content_url(side, f"av-{side.name}-{run}.bin")
            start = time.perf_counter()
            seconds = client.put_file(url, side.headers, payload)
            figures.upload.setdefault(side.name, []).append(mb_per_s(size, seconds))
            if side is on:
                wait_for_verdict(side, url)
                cleared = time.perf_counter() - start
                figures.cleared.setdefault(side.name, []).append(mb_per_s(size, cleared))
        for side in (off, on):
            if not args.small_files:
                break
            urls = [
                content_url(side, f"small/av-{side.name}/{run}/note-{i}.txt")
                for i in range(args.small_files)
            ]
            seconds = client.put_many(urls, side.headers, small)
            figures.small.setdefault(side.name, []).append(args.small_files / seconds)
    return figures


def wait_for_verdict(side: Server, url: str) -> None:
    """Poll the versions of the file just uploaded until its verdict is stored."""
    versions = url.replace("/content/", "/versions/", 1)
    deadline = time.monotonic() + BIG_TIMEOUT
    with httpx.Client(headers=side.headers, timeout=10) as http:
        while time.monotonic() < deadline:
            response = http.get(versions)
            response.raise_for_status()
            if response.json()[0]["scan"] != "pending":
                return
            time.sleep(0.01)
    raise RuntimeError(f"no verdict within {BIG_TIMEOUT} s for {versions}")


def report_antivirus(figures: Figures, off: str, on: str, args: argparse.Namespace) -> None:
    print()
    print(f"{'antivirus (clamd, INSTREAM)':<38}{'off':>10}{'on':>10}{'on/off':>8}")
    for label, a_table, b_table in (
        (f"upload {args.size_mib} MiB, answered (MB/s)", figures.upload, figures.upload),
        (f"upload {args.size_mib} MiB, verdict in (MB/s)", figures.upload, figures.cleared),
        (f"{args.small_files} uploads of 10 KiB (files/s)", figures.small, figures.small),
    ):
        a, b = median(a_table.get(off)), median(b_table.get(on))
        ratio = b / a if a and b is not None else None
        print(f"{label:<38}{cell(a):>10}{cell(b):>10}{cell(ratio, 2):>8}")
    print(
        "  (over antivirus_wait_max_bytes the answer comes before the verdict and the file "
        "is held for its uploader until it; ADR 29)"
    )
    for label, table in (
        ("upload", figures.upload),
        ("verdict in", figures.cleared),
        ("small files", figures.small),
    ):
        for name, values in table.items():
            print(f"  {label:<12}{name:<14}{', '.join(f'{v:.0f}' for v in values)}")


def child_serve(variant: str, port: int) -> None:
    """Serve the Égide app (data directory from EGIDE_DATA_DIR) with another server."""
    if variant == "uvicorn-h11":
        import uvicorn

        from egide.core.config import Settings
        from egide.services.registry import build_services
        from egide.web.app import create_app

        services = build_services(Settings())
        try:
            uvicorn.run(
                create_app(services),
                host="127.0.0.1",
                port=port,
                http="h11",
                log_level="warning",
                access_log=False,
                server_header=False,
            )
        finally:
            services.close()
    elif variant == "granian":
        from granian.constants import Interfaces
        from granian.server import Server as Granian

        sys.path.insert(0, str(Path(__file__).parent))
        Granian(
            "http_throughput:granian_app",
            address="127.0.0.1",
            port=port,
            interface=Interfaces.ASGI,
            factory=True,
            workers=1,
            log_access=False,
        ).serve()
    else:
        raise SystemExit(f"unknown server {variant}")


def granian_app() -> Any:
    """The app factory granian imports in its worker process."""
    from egide.core.config import Settings
    from egide.services.registry import build_services
    from egide.web.app import create_app

    return create_app(build_services(Settings()))


NGINX_CONF = """\
worker_processes 1;
error_log {root}/error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
        location /static/ {{ }}
        location /put/ {{
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 0;
            client_body_temp_path {root}/put-body;
        }}
    }}
}}
"""


def ensure_nginx(install: bool) -> str | None:
    """The nginx binary, installed with apt-get if missing and allowed; None to skip nginx."""
    if Path(NGINX).exists():
        return NGINX
    if not install:
        print("nginx: not installed (--no-install): the nginx columns are skipped")
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print("nginx: not installed, and installing needs root and apt-get: nginx skipped")
        return None
    print("nginx: not installed: apt-get install -y nginx")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "nginx"]):
        try:
            subprocess.run(command, env=env, check=True, capture_output=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"nginx: {' '.join(command)} failed ({exc}): the nginx columns are skipped")
            return None
    return NGINX if Path(NGINX).exists() else None


def start_nginx(children: Children, binary: str, workdir: Path, payload: Path) -> Server | None:
    root = workdir / "nginx"
    for sub in ("www/static", "www/put", "body", "put-body"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.link(payload, root / "www/static" / payload.name)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, port=port))
    if os.geteuid() == 0:
        # Root's nginx workers run as nobody: let them read and write here.
        for path in (workdir, root, *root.rglob("*")):
            path.chmod(path.stat().st_mode | 0o755 if path.is_dir() else 0o644)
        for sub in ("www/put", "body", "put-body"):
            shutil.chown(root / sub, user="nobody")
    command = [binary, "-p", f"{root}/", "-c", str(conf), "-g", "daemon off;"]
    log = workdir / "nginx.log"
    proc = children.start(command, dict(os.environ), log)
    try:
        wait_ready(f"http://127.0.0.1:{port}/static/{payload.name}", proc, log)
    except RuntimeError as exc:
        print(f"nginx: could not start ({exc}): the nginx columns are skipped")
        return None
    return Server("nginx", f"http://127.0.0.1:{port}")


# Clients ---------------------------------------------------------------------


class Client:
    """One transfer or a batch of requests; the same for Égide and nginx."""

    name = ""

    def put_file(self, url: str, headers: dict[str, str], path: Path) -> float:
        """Seconds to PUT a file."""
        raise NotImplementedError

    def get(self, url: str, headers: dict[str, str], expected: int) -> float:
        """Seconds to GET a body of `expected` bytes, discarded."""
        raise NotImplementedError

    def put_many(self, urls: list[str], headers: dict[str, str], path: Path) -> float:
        """Seconds to PUT the same file to each URL, one after the other."""
        raise NotImplementedError

    def get_many(self, urls: list[str], headers: dict[str, str]) -> list[float]:
        """Seconds of each GET, one after the other."""
        raise NotImplementedError


class CurlClient(Client):
    name = "curl"
    FORMAT = "%{http_code} %{size_upload} %{size_download} %{time_total}\\n"

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir

    def _run(self, args: list[str], headers: dict[str, str], timeout: float) -> list[list[str]]:
        command = [self.binary, "-sS", "--http1.1", "-H", "Expect:", "-w", self.FORMAT]
        for key, value in headers.items():
            command += ["-H", f"{key}: {value}"]
        result = subprocess.run(
            command + args, capture_output=True, text=True, timeout=timeout, check=False
        )
        lines = [line.split() for line in result.stdout.splitlines() if line.strip()]
        bad = [line for line in lines if not line[0].startswith("2")]
        if result.returncode != 0 or bad or not lines:
            raise RuntimeError(f"curl failed ({result.returncode}): {bad[:3]} {result.stderr}")
        return lines

    def _config(self, lines: list[str]) -> Path:
        config = self.workdir / f"curl-{secrets.token_hex(4)}.conf"
        config.write_text("\n".join(lines) + "\n")
        return config

    def put_file(self, url: str, headers: dict[str, str], path: Path) -> float:
        (line,) = self._run(["-o", "/dev/null", "-T", str(path), url], headers, BIG_TIMEOUT)
        return float(line[3])

    def get(self, url: str, headers: dict[str, str], expected: int) -> float:
        (line,) = self._run(["-o", "/dev/null", url], headers, BIG_TIMEOUT)
        if int(line[2]) != expected:
            raise RuntimeError(f"GET {url}: {line[2]} bytes, expected {expected}")
        return float(line[3])

    def put_many(self, urls: list[str], headers: dict[str, str], path: Path) -> float:
        lines = []
        for url in urls:
            lines += [f'url = "{url}"', f'upload-file = "{path}"', 'output = "/dev/null"']
        config = self._config(lines)
        start = time.perf_counter()
        self._run(["--config", str(config)], headers, BATCH_TIMEOUT)
        seconds = time.perf_counter() - start
        config.unlink()
        return seconds

    def get_many(self, urls: list[str], headers: dict[str, str]) -> list[float]:
        config = self._config([f'url = "{url}"\noutput = "/dev/null"' for url in urls])
        lines = self._run(["--config", str(config)], headers, BATCH_TIMEOUT)
        times = [float(line[3]) for line in lines]
        config.unlink()
        return times


class HttpxClient(Client):
    name = "httpx"
    CHUNK = MIB

    def _file(self, path: Path) -> Iterator[bytes]:
        with path.open("rb") as source:
            while chunk := source.read(self.CHUNK):
                yield chunk

    def put_file(self, url: str, headers: dict[str, str], path: Path) -> float:
        sized = {**headers, "Content-Length": str(path.stat().st_size)}
        with httpx.Client(timeout=BIG_TIMEOUT) as client:
            start = time.perf_counter()
            client.put(url, content=self._file(path), headers=sized).raise_for_status()
            return time.perf_counter() - start

    def get(self, url: str, headers: dict[str, str], expected: int) -> float:
        with httpx.Client(timeout=BIG_TIMEOUT) as client:
            start = time.perf_counter()
            with client.stream("GET", url, headers=headers) as response:
                response.raise_for_status()
                total = sum(len(chunk) for chunk in response.iter_raw(self.CHUNK))
            seconds = time.perf_counter() - start
        if total != expected:
            raise RuntimeError(f"GET {url}: {total} bytes, expected {expected}")
        return seconds

    def put_many(self, urls: list[str], headers: dict[str, str], path: Path) -> float:
        body = path.read_bytes()
        with httpx.Client(timeout=BIG_TIMEOUT, headers=headers) as client:
            start = time.perf_counter()
            for url in urls:
                client.put(url, content=body).raise_for_status()
            return time.perf_counter() - start

    def get_many(self, urls: list[str], headers: dict[str, str]) -> list[float]:
        times = []
        with httpx.Client(timeout=BIG_TIMEOUT, headers=headers) as client:
            for url in urls:
                start = time.perf_counter()
                client.get(url).raise_for_status()
                times.append(time.perf_counter() - start)
        return times


# Measures --------------------------------------------------------------------


def write_random(path: Path, size: int) -> None:
    block = bytearray(os.urandom(MIB))
    with path.open("wb") as out:
        for i in range(size // MIB):
            block[:8] = i.to_bytes(8, "big")  # no short period: every MiB differs
            out.write(block)
        out.write(os.urandom(size % MIB))


def content_url(server: Server, path: str) -> str:
    if server.name == "nginx":
        return f"{server.url}/put/{path}"
    return f"{server.url}/api/v1/spaces/{SPACE}/content/{path}"


@dataclass
class Figures:
    """Every run of every measure, per side."""

    upload: dict[str, list[float]] = field(default_factory=dict)
    download: dict[str, list[float]] = field(default_factory=dict)
    small: dict[str, list[float]] = field(default_factory=dict)
    listing_whole: dict[str, list[float]] = field(default_factory=dict)
    listing_page: dict[str, list[float]] = field(default_factory=dict)
    listing_first: dict[str, float] = field(default_factory=dict)
    listing_changed: dict[str, list[float]] = field(default_factory=dict)
    #: Until the upload's verdict is stored (antivirus on; ADR 29).
    cleared: dict[str, list[float]] = field(default_factory=dict)


def measure(
    client: Client,
    sides: list[Server],
    payload: Path,
    small: Path,
    args: argparse.Namespace,
) -> Figures:
    size = payload.stat().st_size
    figures = Figures()
    for run in range(args.repeat):
        # Interleaved: each side in turn, so that all see the same drift.
        for side in sides:
            url = content_url(side, f"big-{side.name}-{run}.bin")
            seconds = client.put_file(url, side.headers, payload)
            figures.upload.setdefault(side.name, []).append(mb_per_s(size, seconds))
        for side in sides:
            url = (
                f"{side.url}/static/{payload.name}"
                if side.name == "nginx"
                else content_url(side, f"big-{side.name}-{run}.bin")
            )
            seconds = client.get(url, side.headers, size)
            figures.download.setdefault(side.name, []).append(mb_per_s(size, seconds))
        for side in sides:
            if not args.small_files:
                break
            urls = [
                content_url(side, f"small/{side.name}/{run}/note-{i}.txt")
                for i in range(args.small_files)
            ]
            seconds = client.put_many(urls, side.headers, small)
            figures.small.setdefault(side.name, []).append(args.small_files / seconds)
        print(f"run {run + 1}/{args.repeat} done")
    for side in sides:
        if side.name == "nginx" or not args.listing_entries:
            continue
        base = f"{side.url}/api/v1/spaces/{SPACE}/nodes/listing"
        count = args.listing_requests
        # Whole listing and first page alternate in blocks, bounded by `count`.
        whole: list[float] = []
        page: list[float] = []
        for _ in range(2):
            whole += client.get_many([f"{base}?limit={WHOLE_PAGE}"] * (count // 2), side.headers)
            page += client.get_many([base] * (count - count // 2), side.headers)
        figures.listing_whole[side.name] = [s * 1000 for s in whole]
        figures.listing_page[side.name] = [s * 1000 for s in page]
        figures.listing_first[side.name] = whole[0] * 1000
        figures.listing_changed[side.name] = [
            s * 1000 for s in listings_after_a_change(client, side, f"{base}?limit={WHOLE_PAGE}")
        ]
    return figures


def listings_after_a_change(client: Client, side: Server, url: str) -> list[float]:
    """Seconds of whole listings, each right after a rename of one entry (there and back)."""
    with httpx.Client(headers=side.headers, timeout=BIG_TIMEOUT) as api:
        name = api.get(url.replace(f"limit={WHOLE_PAGE}", "limit=1")).json()["items"][0]["name"]
        times = []
        for i in range(LISTINGS_AFTER_A_CHANGE):
            old, new = (name, f"~{name}") if i % 2 == 0 else (f"~{name}", name)
            moved = api.post(
                f"{side.url}/api/v1/spaces/{SPACE}/move",
                json={"from": f"listing/{old}", "to": f"listing/{new}"},
            )
            moved.raise_for_status()
            times += client.get_many([url], side.headers)
    return times


# Report ----------------------------------------------------------------------


def median(values: list[float] | None) -> float | None:
    return statistics.median(values) if values else None


def cell(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report(
    figures: Figures, egide_names: list[str], has_nginx: bool, args: argparse.Namespace
) -> None:
    print()
    print(
        f"{'operation':<34}{'server':<13}{'Égide':>10}{'nginx':>10}{'ratio':>8}"
        f"{'target':>10}  result"
    )
    nginx_up = median(figures.upload.get("nginx"))
    nginx_down = median(figures.download.get("nginx"))
    nginx_small = median(figures.small.get("nginx"))
    size = args.size_mib
    for name in egide_names:
        rows: list[tuple[str, float | None, float | None, float | None, str]] = [
            (
                f"upload {size} MiB (MB/s)",
                median(figures.upload.get(name)),
                nginx_up,
                UPLOAD_TARGET,
                ">= 0.60",
            ),
            (
                f"download {size} MiB (MB/s)",
                median(figures.download.get(name)),
                nginx_down,
                DOWNLOAD_TARGET,
                ">= 0.40",
            ),
            (
                f"{args.small_files} uploads of 10 KiB (files/s)",
                median(figures.small.get(name)),
                nginx_small,
                None,
                "-",
            ),
        ]
        for label, ours, theirs, target, target_text in rows:
            ratio = ours / theirs if ours is not None and theirs else None
            result = "-"
            if target is not None and ratio is not None:
                result = "PASS" if ratio >= target else "FAIL"
            print(
                f"{label:<34}{name:<13}{cell(ours):>10}{cell(theirs):>10}{cell(ratio, 2):>8}"
                f"{target_text:>10}  {result}"
            )
        for label, times in (
            (f"listing {args.listing_entries}, whole", figures.listing_whole.get(name)),
            (f"listing {args.listing_entries}, 1st {DEFAULT_PAGE}", figures.listing_page.get(name)),
        ):
            if not times:
                continue
            p50, p99 = percentile(times, 0.50), percentile(times, 0.99)
            result = "PASS" if p99 < LISTING_P99_MS else "FAIL"
            print(f"{label + ' p50 (ms)':<34}{name:<13}{p50:>10.1f}{'-':>10}{'-':>8}{'-':>10}  -")
            print(
                f"{label + ' p99 (ms)':<34}{name:<13}{p99:>10.1f}{'-':>10}{'-':>8}"
                f"{'< 100':>10}  {result}"
            )
        first, changed = figures.listing_first.get(name), figures.listing_changed.get(name)
        if first is not None:
            print(f"{'listing, first after start (ms)':<34}{name:<13}{first:>10.1f}")
        if changed:
            p50, worst = percentile(changed, 0.50), max(changed)
            label = "listing after a rename, p50 (ms)"
            print(f"{label:<34}{name:<13}{p50:>10.1f}{'':>28}  max {worst:.1f} ms")
    if not has_nginx:
        print("nginx was not available: no nginx column, no ratio")
    print()
    print("runs (MB/s or files/s), in order:")
    for label, table in (
        ("upload", figures.upload),
        ("download", figures.download),
        ("small files", figures.small),
    ):
        for name, values in table.items():
            print(f"  {label:<12}{name:<13}{', '.join(f'{v:.0f}' for v in values)}")


# Main ------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=1024, help="big file (MiB)")
    parser.add_argument("--small-files", type=int, default=1000, help="10 KiB uploads per run")
    parser.add_argument("--listing-entries", type=int, default=10000, help="files in the folder")
    parser.add_argument("--listing-requests", type=int, default=100, help="GETs per listing form")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure (median)")
    parser.add_argument(
        "--server",
        choices=[*SERVERS, "all"],
        default="uvicorn",
        help="Égide's server: `egide serve` (uvicorn), uvicorn with h11, granian, or all three",
    )
    parser.add_argument(
        "--client", choices=["curl", "httpx"], default=None, help="default: curl if present"
    )
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()), help="where files are written"
    )
    parser.add_argument("--no-install", action="store_true", help="never apt-get install nginx")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI (< 60 s)")
    parser.add_argument("--child-serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.size_mib, args.small_files, args.listing_entries = 8, 20, 50
        args.listing_requests, args.repeat = 10, 1
    if args.listing_entries > WHOLE_PAGE:
        parser.error(f"--listing-entries: at most {WHOLE_PAGE}, the API's largest page")
    return args


def main() -> None:
    args = parse_args()
    if args.child_serve:
        child_serve(args.child_serve, args.port)
        return
    signal.signal(signal.SIGTERM, _terminate)
    servers = list(SERVERS) if args.server == "all" else [args.server]
    if "granian" in servers:
        try:
            import granian  # noqa: F401
        except ImportError:
            print("granian is not installed (pip install granian): skipped")
            servers.remove("granian")
    curl = shutil.which("curl")
    client_name = args.client or ("curl" if curl else "httpx")
    children = Children()
    scanning: tuple[Server, Any] | None = None
    workdir = Path(tempfile.mkdtemp(prefix="egide-http-bench-", dir=args.dir))
    try:
        client: Client = (
            CurlClient(curl, workdir) if client_name == "curl" and curl else HttpxClient()
        )
        payload = workdir / "payload.bin"
        write_random(payload, args.size_mib * MIB)
        small = workdir / "note.txt"
        small.write_bytes(os.urandom(SMALL_FILE))
        token = set_up_vault(workdir / "data", args.listing_entries, servers, args.repeat)
        sides: list[Server] = []
        binary = ensure_nginx(not args.no_install)
        if binary:
            nginx = start_nginx(children, binary, workdir, payload)
            if nginx:
                sides.append(nginx)
        sides += [start_egide(children, v, workdir / "data", workdir, token) for v in servers]
        print(
            f"HTTP throughput, {args.size_mib} MiB file, median of {args.repeat} runs, "
            f"client {client.name}, Égide on {', '.join(servers)}, files in {args.dir}"
        )
        figures = measure(client, sides, payload, small, args)
        report(figures, servers, any(s.name == "nginx" for s in sides), args)
        off = next((s for s in sides if s.name == "uvicorn"), None)
        if off is not None:
            scanning = start_scanning_egide(
                children, workdir / "data", workdir, token, args.size_mib * MIB
            )
        if off is not None and scanning is not None:
            av = measure_antivirus(
                client, off, scanning[0], payload=payload, small=small, args=args
            )
            report_antivirus(av, off.name, AV_SIDE, args)
    finally:
        children.stop_all()
        if scanning is not None:
            scanning[1].close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
