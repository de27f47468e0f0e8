"""What the balanced benchmark starts: a throwaway PostgreSQL server, `careops serve` instances on it,
and nginx in front of them with the deployment example's configuration (serving/deploy/nginx.conf)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.bodies import free_port
from tests.helpers import POSTGRES_ENV, fresh_postgres_database
from tests.processes import wait_until_ready

NGINX_EXAMPLE = Path(__file__).resolve().parents[2] / "serving" / "deploy" / "nginx.conf"


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: float(p.parent.name))
    return found[-1] if found else None


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new database: on the server CAREOPS_TEST_POSTGRES_URL names, else on a throwaway server
    started here (Debian's PostgreSQL, run as the postgres user, as .ci/run starts one)."""
    if os.environ.get(POSTGRES_ENV):
        yield fresh_postgres_database()
        return
    binaries = _pg_bin()
    assert binaries is not None, "no PostgreSQL (apt-get install postgresql) for the balanced benchmark"
    data = Path(tempfile.mkdtemp(prefix="careops-bench-pg."))
    shutil.chown(data, "postgres")
    port = free_port()

    def as_postgres(command: str) -> None:
        subprocess.run(["su", "postgres", "-c", command], check=True, capture_output=True)

    as_postgres(f"{binaries}/initdb -D {data} -A trust -U postgres")
    as_postgres(
        f"{binaries}/pg_ctl -D {data} -l {data}/server.log -w start "
        f"-o '-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=200'"
    )
    previous = os.environ.get(POSTGRES_ENV)
    os.environ[POSTGRES_ENV] = f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    try:
        yield fresh_postgres_database()
    finally:
        if previous is None:
            os.environ.pop(POSTGRES_ENV, None)
        as_postgres(f"{binaries}/pg_ctl -D {data} -m fast stop")
        shutil.rmtree(data, ignore_errors=True)


def nginx_config(listen: int, upstreams: list[int], prefix: Path) -> Path:
    """The deployment example with the benchmark's ports, written under `prefix`."""
    text = NGINX_EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r"listen 127\.0\.0\.1:\d+", f"listen 127.0.0.1:{listen}", text)
    servers = re.findall(r"        server 127\.0\.0\.1:\d+ [^;]*;\n", text)
    options = re.search(r"server 127\.0\.0\.1:\d+ ([^;]*;\n)", servers[0]).group(1)
    lines = "".join(f"        server 127.0.0.1:{port} {options}" for port in upstreams)
    text = text.replace("".join(servers), lines)
    config = prefix / "nginx.conf"
    config.write_text(text, encoding="utf-8")
    return config


@contextmanager
def nginx(upstreams: list[int], prefix: Path) -> Iterator[int]:
    """nginx balancing `upstreams`; yields the port it listens on."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(binary).exists(), "no nginx (apt-get install nginx-light) for the balanced benchmark"
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = nginx_config(port, upstreams, prefix)
    process = subprocess.Popen(
        [binary, "-c", str(config), "-p", f"{prefix}/", "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_ready(process, f"http://127.0.0.1:{port}/health/live", 30)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
