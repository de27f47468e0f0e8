"""The MLLP listener on a network, as the penetration test tried it: TLS (and client certificates),
an allow-list of senders, a cap on connections, a deadline for a trickled frame, and /metrics on the
health port behind the metrics token."""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from pathlib import Path

import httpx
import pytest

from data.stores.appointments import AppointmentStore
from data.stores.audit import AuditStore
from tests.feeds.listener import S12, MllpClient, ack_code, certificate, running_listener

TOKEN = "listener-network-metrics-token-0123456789abcdef"


def _closed_without_an_answer(connection: socket.socket) -> bool:
    """Whether the listener closed the connection (at once, or with a reset for the unread bytes)."""
    try:
        return connection.recv(100) == b""
    except ConnectionResetError:
        return True


def _metrics(port: int) -> str:
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    return answer.text


def test_over_tls_with_client_certificates_messages_round_trip_and_plain_text_is_refused(
    tmp_path: Path,
) -> None:
    ca_cert, _, ca = certificate(tmp_path, "practice-ca")
    server_cert, server_key, _ = certificate(tmp_path, "careops")
    client_cert, client_key, _ = certificate(tmp_path, "mirth", issuer=ca)
    url = f"sqlite:///{tmp_path / 'tls.db'}"
    options = ("--tls-cert", str(server_cert), "--tls-key", str(server_key), "--tls-client-ca", str(ca_cert))
    with running_listener(url, tmp_path, *options) as listener:
        tls = ssl.create_default_context(cafile=str(server_cert))
        tls.load_cert_chain(client_cert, client_key)
        client = MllpClient(listener.port, tls)
        assert ack_code(client.send(S12)) == "AA"
        assert ack_code(client.send(S12.replace("SIU^S12", "SIU^S15").replace("CTRL1", "CTRL2"))) == "AA"
        client.close()
        without_certificate = ssl.create_default_context(cafile=str(server_cert))
        with pytest.raises((ssl.SSLError, ConnectionError)):
            refused = MllpClient(listener.port, without_certificate)
            refused.send(S12)
        plain = socket.create_connection(("127.0.0.1", listener.port), timeout=10)
        plain.sendall(b"\x0b" + S12.replace("CTRL1", "CTRL9").replace("77", "99").encode() + b"\x1c\r")
        try:
            answer = plain.recv(100)  # the handshake fails: a TLS alert or nothing, never an ACK
        except ConnectionError:
            answer = b""
        assert b"MSA" not in answer
        plain.close()
    assert listener.exit_code == 0 and '"tls": true' in listener.log
    stored = AppointmentStore(url).bookings_of(["APPT-77", "APPT-99"])
    assert stored["APPT-77"].outcome == "cancelled" and "APPT-99" not in stored
    # The trail names the sender by its certificate, from its address.
    trail = AuditStore(f"sqlite:///{tmp_path / 'tls-audit.db'}").entries()
    assert [(e.entry.action, e.entry.record_ids) for e in trail] == [("change", ("APPT-77",))] * 2
    assert {(e.entry.principal, e.entry.source) for e in trail} == {("system:hl7:mirth", "127.0.0.1")}


def test_senders_off_the_allow_list_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'allow.db'}"
    env = {"CAREOPS_METRICS_TOKEN": TOKEN}
    with running_listener(url, tmp_path, "--allow", "10.20.0.0/16", env=env) as listener:
        outsider = socket.create_connection(("127.0.0.1", listener.port), timeout=10)
        outsider.sendall(b"\x0b" + S12.encode() + b"\x1c\r")
        assert _closed_without_an_answer(outsider)
        outsider.close()
        assert 'careops_hl7_closed_connections_total{why="sender not allowed"} 1.0' in _metrics(
            listener.health_port
        )
    assert AppointmentStore(url).bookings_of(["APPT-77"]) == {}


def test_the_connection_cap_the_frame_deadline_and_the_metrics_token_hold(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    options = ("--max-connections", "2", "--frame-seconds", "1")
    with running_listener(url, tmp_path, *options, env={"CAREOPS_METRICS_TOKEN": TOKEN}) as listener:
        first, second = MllpClient(listener.port), MllpClient(listener.port)
        assert ack_code(first.send(S12)) == "AA"
        third = socket.create_connection(("127.0.0.1", listener.port), timeout=10)
        assert _closed_without_an_answer(third)  # over the cap: closed at once
        third.close()
        assert ack_code(second.send(S12.replace("CTRL1", "CTRL2"))) == "AA"
        first.close()
        second.close()

        # A sender trickling a frame a byte at a time is cut off at the deadline, not after minutes.
        trickle = socket.create_connection(("127.0.0.1", listener.port), timeout=10)
        started = time.monotonic()
        closed_after = None
        for byte in (b"\x0b" + S12.encode())[:20]:
            try:
                trickle.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
            time.sleep(0.3)
            trickle.setblocking(False)
            try:
                if trickle.recv(10) == b"":
                    closed_after = time.monotonic() - started
                    break
            except BlockingIOError:
                pass
            finally:
                trickle.setblocking(True)
        trickle.close()
        assert closed_after is not None and closed_after < 3, closed_after
        health = f"http://127.0.0.1:{listener.health_port}"
        assert httpx.get(f"{health}/metrics").status_code == 401
        assert httpx.get(f"{health}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(f"{health}/health/live").status_code == 200
        metrics = _metrics(listener.health_port)
        assert 'careops_hl7_closed_connections_total{why="too many connections"} 1.0' in metrics
        assert 'careops_hl7_closed_connections_total{why="frame too slow"} 1.0' in metrics


def test_crafted_megabyte_frames_cost_little_and_do_not_hold_up_a_real_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crafted.db'}"
    megabyte = 1_000_000
    crafted = [
        S12.replace("DOE^JANE", "^" * megabyte),  # a megabyte of components
        S12.replace("PID|1|", "PID|1|" + "|" * megabyte),  # of fields
        S12 + "\rNTE|1|x" * (megabyte // 9),  # of segments careops does not read
    ]
    with running_listener(url, tmp_path, env={"CAREOPS_METRICS_TOKEN": TOKEN}) as listener:
        senders = [MllpClient(listener.port) for _ in crafted]
        for sender, message in zip(senders, crafted, strict=True):
            sender.send_raw(b"\x0b" + message.replace("CTRL1", "CRAFT").encode() + b"\x1c\r")
        started = time.monotonic()
        real = MllpClient(listener.port)
        answer = real.send(S12.replace("APPT-77", "APPT-REAL").replace("CTRL1", "CTRL-REAL"))
        waited = time.monotonic() - started
        codes = [ack_code(sender.ack()) for sender in senders]
        for connection in (*senders, real):
            connection.close()
    print(f"\na real message's ACK after three crafted 1 MB frames: {waited * 1000:.0f} ms")
    assert ack_code(answer) == "AA" and waited < 1.0, waited
    assert codes == ["AR", "AR", "AA"]  # too many components, too many fields; NTEs are dropped
    assert set(AppointmentStore(url).bookings_of(["APPT-REAL", "APPT-77"])) == {"APPT-REAL", "APPT-77"}


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def test_partial_megabyte_frames_on_many_connections_hold_bounded_memory_that_is_returned(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'partial.db'}"
    partial = b"\x0b" + S12.encode() + b"\rNTE|1|" + b"x" * 1_000_000  # a megabyte, never ended
    with running_listener(url, tmp_path, "--max-connections", "50") as listener:
        pid = listener.process.pid
        before = _rss_mb(pid)
        senders = []
        for _ in range(200):  # as many as the pen test opened; the cap keeps 50
            sender = socket.create_connection(("127.0.0.1", listener.port), timeout=10)
            with contextlib.suppress(OSError):  # a refused connection may be closed while it sends
                sender.sendall(partial)
            senders.append(sender)
        time.sleep(1.0)
        held = _rss_mb(pid)
        for sender in senders:
            sender.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _rss_mb(pid) - before > 20:
            time.sleep(0.2)
        after = _rss_mb(pid)
        real = MllpClient(listener.port)
        assert ack_code(real.send(S12)) == "AA"  # and the listener still serves
        real.close()
    print(
        f"\n200 connections with a 1 MB partial frame: RSS {before:.0f} MB, {held:.0f} while held, "
        f"{after:.0f} after"
    )
    assert held - before <= 160, (before, held)  # 50 connections, each at most a frame and a read
    assert after - before <= 20, (before, after)
