"""A real `careops listen hl7` process for the tests, and a small MLLP client to talk to it."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from data.feeds.mllp import END, START
from tests.bodies import free_port
from tests.processes import wait_until_ready

BIN = Path(sys.executable).parent
LOCAL = ipaddress.ip_address("127.0.0.1")
# One booking (SIU^S12) the listener tests send.
S12 = (
    "MSH|^~\\&|PM|CLINIC|CAREOPS|CAREOPS|20260301090000||SIU^S12|CTRL1|P|2.3\r"
    "SCH|APPT-77|APPT-77|||||ROUTINE|FOLLOWUP^Follow-up|20|min|^^^20260310143000\r"
    "PID|1||PAT-77||DOE^JANE||19800101|F\r"
    "PV1|1|O|^^^C01||||C01-D1"
)


@dataclass
class RunningListener:
    """The listener's ports and, once it has stopped, its exit code and log."""

    port: int
    health_port: int
    process: subprocess.Popen
    log: str = ""
    exit_code: int | None = None


@contextmanager
def running_listener(
    database_url: str, tmp: Path, *options: str, env: dict[str, str] | None = None
) -> Iterator[RunningListener]:
    """`careops listen hl7 [options]` on free ports against `database_url`; stopped with SIGTERM."""
    port, health_port = free_port(), free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CAREOPS_", "MLFLOW_"))}
    environment |= {"CAREOPS_DATABASE_URL": database_url, **(env or {})}
    log_path = tmp / f"listener-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                str(BIN / "careops"),
                "listen",
                "hl7",
                "--port",
                str(port),
                "--health-port",
                str(health_port),
                *options,
            ],
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
        running = RunningListener(port, health_port, process)
        wait_until_ready(process, f"http://127.0.0.1:{health_port}/health/ready", 60, log_path.read_text)
        try:
            yield running
        finally:
            process.send_signal(signal.SIGTERM)
            running.exit_code = process.wait(timeout=60)
    running.log = log_path.read_text()


class MllpClient:
    """One connection (over TLS when given a context): send a message, read its ACK."""

    def __init__(self, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=30)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_hostname="127.0.0.1")
        self.buffer = b""

    def send_raw(self, data: bytes) -> None:
        self.socket.sendall(data)

    def ack(self) -> str:
        """The next ACK (its text, segments separated by CR)."""
        while END not in self.buffer:
            chunk = self.socket.recv(65536)
            if not chunk:
                raise ConnectionError("closed before an ACK")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(END, 1)
        return message.removeprefix(START).decode()

    def send(self, message: str | bytes) -> str:
        """Frame and send one message; its ACK."""
        self.send_raw(START + (message.encode() if isinstance(message, str) else message) + END)
        return self.ack()

    def close(self) -> None:
        self.socket.close()


def ack_code(ack: str) -> str:
    """MSA-1 of an ACK."""
    msa = next(s for s in ack.split("\r") if s.startswith("MSA|"))
    return msa.split("|")[1]


def certificate(folder: Path, name: str, issuer: tuple | None = None) -> tuple[Path, Path, tuple]:
    """A certificate for 127.0.0.1 (self-signed, or signed by `issuer`) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_name, signer_key = (issuer[0], issuer[1]) if issuer else (subject, key)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(signer_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(LOCAL)]), False)
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), True)
        .sign(signer_key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path, (subject, key)
