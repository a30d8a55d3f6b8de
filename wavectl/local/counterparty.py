"""The new owner's side of the payment bridge, offline: a stand-in for its Java processing.

It watches the local SFTP server's outbound directory (as a watcher on the real host would: it
sees a file once the uploader closed it), "processes" each payment chunk and writes one
acknowledgement file per chunk into the server's acknowledgement directory:

    <chunk name without extension>.ack.csv
    end_to_end_id,amount,currency,...,remittance_info,ack_status,ack_reason,processed_at

the canonical columns of each payment as it understood them, plus its own processed status code
(`ack_status`, ISO 20022 pain.002-style: ACSC settled, RJCT rejected). The acknowledgement is
written to a work directory and renamed into place, so a listing never sees half a file. From
there the bridge's connector retrieves it into the acknowledgement bucket (StartDirectoryListing +
StartFileTransfer RetrieveFilePaths), the path it takes on AWS.

Faults for tests (`Faults`): drop a payment, alter an amount, duplicate one, map a status wrongly,
delay a file, never send a file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath

from tasks.contracts import CANONICAL_PAYMENT_FIELDS
from wavectl.local.sftp_server import LocalSftpServer, ReceivedFile

ACK_SUFFIX = ".ack.csv"
ACK_FIELDS: tuple[str, ...] = (*CANONICAL_PAYMENT_FIELDS, "ack_status", "ack_reason", "processed_at")
SETTLED, REJECTED = "ACSC", "RJCT"


@dataclass
class Faults:
    """What the counterparty gets wrong, by end-to-end id or chunk file name."""

    drop: set[str] = field(default_factory=set)  # payments it never acknowledges
    alter_amount: dict[str, str] = field(default_factory=dict)  # end_to_end_id -> amount it reports
    duplicate: set[str] = field(default_factory=set)  # payments acknowledged twice
    wrong_status: dict[str, str] = field(default_factory=dict)  # end_to_end_id -> ack_status it reports
    delay_seconds: dict[str, float] = field(default_factory=dict)  # chunk file name -> real seconds late
    never_send: set[str] = field(default_factory=set)  # chunk file names never acknowledged
    reject: set[str] = field(default_factory=set)  # payments it rejects (a legitimate RJCT)


class Counterparty:
    """Processes the chunks that arrive on `server` (see the module docstring)."""

    def __init__(self, server: LocalSftpServer, *, inbox: str, outbox: str) -> None:
        self.server = server
        self.inbox = inbox.strip("/")  # where the bridge puts payment chunks (the bridge's outbound dir)
        self.outbox = outbox.strip("/")  # where acknowledgements go (the bridge's acknowledgements dir)
        self.faults = Faults()
        self.processed: list[str] = []  # chunk names acknowledged, in order
        self.errors: list[str] = []
        self._queue: queue.Queue[ReceivedFile | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._timers: list[threading.Timer] = []
        self._idle = threading.Condition()
        self._busy = 0
        server.on_file_written(self._arrived)

    def start(self) -> Counterparty:
        (self.server.root / self.outbox).mkdir(parents=True, exist_ok=True)
        (self.server.root / self.inbox).mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._work, name="counterparty", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(5)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy or not self._queue.empty():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.1))
        return True

    # ------------------------------------------------------------------ processing

    def _arrived(self, received: ReceivedFile) -> None:
        path = PurePosixPath(received.path)
        if str(path.parent) == self.inbox and not path.name.startswith("."):
            with self._idle:
                self._busy += 1
            self._queue.put(received)

    def _work(self) -> None:
        while (received := self._queue.get()) is not None:
            try:
                self._process(received)
            except Exception as exc:  # a malformed chunk must not stop the counterparty
                self.errors.append(f"{received.path}: {type(exc).__name__}: {exc}")
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    def _process(self, received: ReceivedFile) -> None:
        name = PurePosixPath(received.path).name
        if name in self.faults.never_send:
            return
        rows = list(_read_chunk(self.server.root / received.path))
        body = self._acknowledgement(rows)
        delay = self.faults.delay_seconds.get(name, 0.0)
        if delay > 0:
            timer = threading.Timer(delay, self._write, args=(name, body))
            timer.daemon = True
            self._timers.append(timer)
            timer.start()
        else:
            self._write(name, body)

    def _acknowledgement(self, rows: list[dict[str, str]]) -> bytes:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=ACK_FIELDS, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.answer(rows))
        return out.getvalue().encode()

    def answer(self, rows: list[dict[str, str]], processed_at: str | None = None) -> list[dict[str, str]]:
        """Its acknowledgement of each payment, with the payment faults applied (drop, alter_amount,
        duplicate, wrong_status, reject): the canonical columns as it understood them, `ack_status`,
        `ack_reason`, `processed_at`. Chunks are answered through this, and so is the payment dual run's
        daily acknowledgement file (wavectl/local/seeders/payment_dual_run.py)."""
        processed_at = processed_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        faults, answered = self.faults, []
        for row in rows:
            e2e = row["end_to_end_id"]
            if e2e in faults.drop:
                continue
            ack = {field_name: row.get(field_name, "") for field_name in CANONICAL_PAYMENT_FIELDS}
            if e2e in faults.alter_amount:
                ack["amount"] = faults.alter_amount[e2e]
            rejected = e2e in faults.reject or Decimal(ack["amount"] or "0") <= 0
            ack["ack_status"] = faults.wrong_status.get(e2e, REJECTED if rejected else SETTLED)
            ack["ack_reason"] = "AM05 rejected by the receiving ledger" if rejected else ""
            ack["processed_at"] = processed_at
            answered.append(ack)
            if e2e in faults.duplicate:
                answered.append(dict(ack))
        return answered

    def _write(self, chunk_name: str, body: bytes) -> None:
        stem = chunk_name.rsplit(".", 1)[0]
        work = self.server.root / ".counterparty-work"
        work.mkdir(exist_ok=True)
        temporary = work / f"{stem}{ACK_SUFFIX}"
        temporary.write_bytes(body)
        os.replace(temporary, self.server.root / self.outbox / f"{stem}{ACK_SUFFIX}")
        self.processed.append(chunk_name)


def _read_chunk(path: Path):
    """Canonical records of a chunk (CSV with header, or JSON Lines)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        for line in text.splitlines():
            if line.strip():
                yield {k: "" if v is None else str(v) for k, v in json.loads(line).items()}
        return
    yield from csv.DictReader(io.StringIO(text))
