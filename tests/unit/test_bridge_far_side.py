"""The bridge's far side offline: the SFTP server's key checks, the counterparty and its faults,
and the acknowledgement check the acks function applies."""

from __future__ import annotations

import asyncio
import csv
import io
import time

import asyncssh
import pytest

from tasks.contracts import CANONICAL_PAYMENT_FIELDS
from tasks.payments.acks import check_acknowledgement
from wavectl.local.counterparty import ACK_FIELDS, Counterparty
from wavectl.local.sftp_server import LocalSftpServer, new_key, public_line

CHUNK_ROWS = [
    {
        "end_to_end_id": f"E2E-{n}",
        "amount": f"{n}0.50",
        "currency": "EUR",
        "debtor_iban": "DE89370400440532013000",
        "debtor_bic": "COBADEFFXXX",
        "debtor_name": "Acme",
        "creditor_iban": "FR1420041010050500013M02606",
        "creditor_bic": "BNPAFRPPXXX",
        "creditor_name": "Bob",
        "requested_execution_date": "2026-11-30",
        "status": "ACSC",
        "remittance_info": f"invoice {n}",
    }
    for n in range(1, 5)
]


def chunk_bytes() -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CANONICAL_PAYMENT_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(CHUNK_ROWS)
    return out.getvalue().encode()


@pytest.fixture
def far_side(tmp_path):
    client = new_key()
    server = LocalSftpServer(
        tmp_path / "sftp", user="acme-bridge", client_public_key=public_line(client)
    ).start()
    counterparty = Counterparty(server, inbox="/inbound/payments", outbox="/outbound/acks").start()
    yield server, counterparty, client
    counterparty.stop()
    server.stop()


def upload(server: LocalSftpServer, key: asyncssh.SSHKey, name: str, data: bytes, trusted: str | None = None):
    async def run() -> None:
        known = ([asyncssh.import_public_key(trusted or server.host_public_key)], [], [])
        async with (
            asyncssh.connect(
                "127.0.0.1", server.port, username="acme-bridge", client_keys=[key], known_hosts=known
            ) as conn,
            conn.start_sftp_client() as sftp,
        ):
            await sftp.makedirs("/inbound/payments", exist_ok=True)
            async with sftp.open(f"/inbound/payments/{name}", "wb") as handle:
                await handle.write(data)

    asyncio.run(run())


def acknowledgement(server: LocalSftpServer, stem: str) -> list[dict[str, str]]:
    path = server.root / "outbound" / "acks" / f"{stem}.ack.csv"
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_sftp_server_refuses_a_client_key_it_does_not_know(far_side):
    server, _, _ = far_side
    # When someone with another key tries to log in
    with pytest.raises(asyncssh.PermissionDenied):
        upload(server, new_key(), "x.csv", b"x")
    # Then nothing was written
    assert server.received == [] and server.logins == 0


def test_sftp_client_refuses_a_server_whose_host_key_is_not_pinned(far_side):
    server, _, client = far_side
    # When the client trusts another host key than the server's
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        upload(server, client, "x.csv", b"x", trusted=public_line(new_key()))
    # Then the session ended before authentication: no login, no file
    assert server.logins == 0 and server.received == []


def test_counterparty_acknowledges_every_payment_of_a_chunk(far_side):
    server, counterparty, client = far_side
    # When a chunk arrives
    upload(server, client, "batch-00001.csv", chunk_bytes())
    assert counterparty.wait_idle()
    # Then one acknowledgement row per payment, canonical columns as sent, settled
    rows = acknowledgement(server, "batch-00001")
    assert [r["end_to_end_id"] for r in rows] == [r["end_to_end_id"] for r in CHUNK_ROWS]
    assert all(r["ack_status"] == "ACSC" for r in rows)
    assert [{k: r[k] for k in CANONICAL_PAYMENT_FIELDS} for r in rows] == CHUNK_ROWS
    assert tuple(rows[0]) == ACK_FIELDS


def test_counterparty_faults_show_up_in_its_acknowledgement(far_side):
    server, counterparty, client = far_side
    # Given the counterparty drops one payment, alters an amount, duplicates one and maps a status wrongly
    counterparty.faults.drop.add("E2E-1")
    counterparty.faults.alter_amount["E2E-2"] = "999.99"
    counterparty.faults.duplicate.add("E2E-3")
    counterparty.faults.wrong_status["E2E-4"] = "PDNG"
    # When a chunk arrives
    upload(server, client, "batch-00002.csv", chunk_bytes())
    assert counterparty.wait_idle()
    rows = acknowledgement(server, "batch-00002")
    # Then its acknowledgement shows each fault
    assert [r["end_to_end_id"] for r in rows] == ["E2E-2", "E2E-3", "E2E-3", "E2E-4"]
    assert rows[0]["amount"] == "999.99"
    assert rows[3]["ack_status"] == "PDNG"
    # And the acks function's check indexes the duplicate and the statuses
    index = check_acknowledgement("batch-00002.ack.csv", io.StringIO(_text(server, "batch-00002")))
    assert index.status == "valid" and index.rows == 4
    assert index.duplicates == ["E2E-3"]
    assert dict(index.by_status) == {"ACSC": 3, "PDNG": 1}


def test_counterparty_can_delay_a_file_or_never_send_it(far_side):
    server, counterparty, client = far_side
    counterparty.faults.delay_seconds["late-00001.csv"] = 0.5
    counterparty.faults.never_send.add("lost-00001.csv")
    # When two chunks arrive
    upload(server, client, "late-00001.csv", chunk_bytes())
    upload(server, client, "lost-00001.csv", chunk_bytes())
    assert counterparty.wait_idle()
    acks = server.root / "outbound" / "acks"
    # Then the late one is not there yet, and comes later; the lost one never comes
    assert not (acks / "late-00001.ack.csv").exists()
    deadline = time.monotonic() + 5
    while not (acks / "late-00001.ack.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (acks / "late-00001.ack.csv").exists()
    assert not (acks / "lost-00001.ack.csv").exists()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"end_to_end_id,amount\nX,1.00\n", "wrong header"),
        (",".join(ACK_FIELDS).encode() + b"\nE2E-1,1.00,EUR,\xe9\n", "not UTF-8"),
    ],
)
def test_acknowledgement_check_marks_an_unusable_file_invalid_with_its_reason(content, reason):
    lines = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8", newline="")
    index = check_acknowledgement("x.ack.csv", lines)
    assert index.status == "invalid"
    assert index.reason.startswith(reason)


def test_acknowledgement_check_reports_bad_rows_by_line():
    header = ",".join(ACK_FIELDS)
    good = "E2E-1,10.00,EUR,,,,,,,2026-11-30,ACSC,,ACSC,,2026-11-30T07:00:00Z"
    bad = "E2E-2,ten,EUR,,,,,,,2026-11-30,ACSC,,ACSC,,2026-11-30T07:00:00Z"
    index = check_acknowledgement("x.ack.csv", io.StringIO(f"{header}\n{good}\n{bad}\n"))
    assert index.status == "valid" and index.rows == 2
    assert index.problems == ["line 3: amount 'ten' is not a decimal"]


def _text(server: LocalSftpServer, stem: str) -> str:
    return (server.root / "outbound" / "acks" / f"{stem}.ack.csv").read_text()
