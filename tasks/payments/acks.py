"""Acknowledgements: bring the new owner's processing acknowledgements home, check and index them.

The new owner writes one acknowledgement file per payment chunk into its acknowledgement
directory (`<chunk stem>.ack.csv`: the canonical columns, then `ack_status`, `ack_reason`,
`processed_at`). The bridge fetches them with its own SFTP connector, so the trust model is the
one of the outbound direction (pinned host key, our key pair), and nothing on their side needs
AWS credentials. Three events reach the acknowledgements function:

1. the `ack-poll` schedule: `StartDirectoryListing` of the remote acknowledgement directory into
   `listings/` of the acknowledgement bucket;
2. a listing object created in `listings/`: each listed file not fetched before (claimed in the
   bridge table by name, size and modification time) is retrieved with `StartFileTransfer`
   `RetrieveFilePaths` into `received/`; a failed retrieval (transfer-result event) releases its
   claim so the next poll tries again;
3. an acknowledgement created in `received/`: it is read as a stream and checked (UTF-8, header,
   every row: end-to-end id, decimal amount, currency, status); its index — rows, statuses,
   duplicates, problems, the chunk it answers — goes to the bridge table and to
   `index/<file>.json` for reconciliation. A malformed acknowledgement is indexed as `invalid` with
   its reason (never dropped), and its chunk's delivery record notes it was acknowledged.
"""

from __future__ import annotations

import codecs
import csv
import json
import posixpath
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from botocore.exceptions import ClientError

from tasks.common.aws import own_session
from tasks.common.errors import InvalidInput
from tasks.common.logging import logger
from tasks.common.settings import setting
from tasks.contracts import (
    BRIDGE_ACK_INDEX_PREFIX,
    BRIDGE_ACK_LISTINGS_PREFIX,
    BRIDGE_ACK_RECEIVED_PREFIX,
    CANONICAL_PAYMENT_FIELDS,
    ENV_BRIDGE_ACK_BUCKET,
    ENV_BRIDGE_CONNECTOR_ID,
    ENV_BRIDGE_REMOTE_ACKNOWLEDGEMENTS,
    ENV_BRIDGE_TABLE,
)
from tasks.payments.transfer import delivery_key, now

ACK_FIELDS: tuple[str, ...] = (*CANONICAL_PAYMENT_FIELDS, "ack_status", "ack_reason", "processed_at")
ACK_SUFFIX = ".ack.csv"
RETRIEVE_COMPLETED = "SFTP Connector File Retrieve Completed"
RETRIEVE_FAILED = "SFTP Connector File Retrieve Failed"
MAX_FILES_PER_TRANSFER = 10
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]+)?$")
MAX_PROBLEMS = 100  # problems kept per file in the index (the count is always complete)


@dataclass(frozen=True)
class AckSettings:
    table: str
    bucket: str
    connector_id: str
    remote_directory: str

    @classmethod
    def from_environment(cls) -> AckSettings:
        return cls(
            table=setting(ENV_BRIDGE_TABLE),
            bucket=setting(ENV_BRIDGE_ACK_BUCKET),
            connector_id=setting(ENV_BRIDGE_CONNECTOR_ID),
            remote_directory=setting(ENV_BRIDGE_REMOTE_ACKNOWLEDGEMENTS),
        )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = AckSettings.from_environment()
    session = own_session()
    detail_type = event.get("detail-type")
    if detail_type == "Scheduled Event":
        return start_listing(session, settings)
    if detail_type == "Object Created":
        key = event["detail"]["object"]["key"]
        if key.startswith(BRIDGE_ACK_LISTINGS_PREFIX):
            return retrieve_new(session, settings, key)
        if key.startswith(BRIDGE_ACK_RECEIVED_PREFIX):
            return index_acknowledgement(session, settings, key)
        raise InvalidInput(f"s3://{settings.bucket}/{key} is neither a listing nor an acknowledgement")
    if detail_type in (RETRIEVE_COMPLETED, RETRIEVE_FAILED):
        return record_retrieval(session, settings, event["detail"])
    raise InvalidInput(f"the acknowledgements function does not handle {detail_type!r} events")


# ----------------------------------------------------------------------------- 1. poll


def start_listing(session: Any, settings: AckSettings) -> dict[str, Any]:
    listing = session.client("transfer").start_directory_listing(
        ConnectorId=settings.connector_id,
        RemoteDirectoryPath=settings.remote_directory,
        OutputDirectoryPath=f"/{settings.bucket}/{BRIDGE_ACK_LISTINGS_PREFIX.rstrip('/')}",
    )
    return {"listing": listing["ListingId"], "output": listing["OutputFileName"]}


# ----------------------------------------------------------------------------- 2. retrieve


def _retrieval_key(name: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"ack#{name}"}, "sk": {"S": "retrieval"}}


def retrieve_new(session: Any, settings: AckSettings, listing_key: str) -> dict[str, Any]:
    s3 = session.client("s3")
    listing = json.loads(s3.get_object(Bucket=settings.bucket, Key=listing_key)["Body"].read())
    dynamodb = session.client("dynamodb")
    wanted = [
        f
        for f in listing.get("files", [])
        if f["filePath"].endswith(ACK_SUFFIX) and _claim_retrieval(dynamodb, settings.table, f)
    ]
    transfers = []
    for start in range(0, len(wanted), MAX_FILES_PER_TRANSFER):
        group = wanted[start : start + MAX_FILES_PER_TRANSFER]
        transfers.append(
            session.client("transfer").start_file_transfer(
                ConnectorId=settings.connector_id,
                RetrieveFilePaths=[f["filePath"] for f in group],
                LocalDirectoryPath=f"/{settings.bucket}/{BRIDGE_ACK_RECEIVED_PREFIX.rstrip('/')}",
            )["TransferId"]
        )
    # the listing has served its purpose; keeping one per poll would only grow the bucket
    s3.delete_object(Bucket=settings.bucket, Key=listing_key)
    return {"retrieving": [posixpath.basename(f["filePath"]) for f in wanted], "transfers": transfers}


def _claim_retrieval(dynamodb: Any, table: str, listed: dict[str, Any]) -> bool:
    """True once per (name, size, modification time): a file changed in place is fetched again."""
    version = f"{listed.get('size', '')}@{listed.get('modifiedTimestamp', '')}"
    try:
        dynamodb.put_item(
            TableName=table,
            Item={
                **_retrieval_key(posixpath.basename(listed["filePath"])),
                "version": {"S": version},
                "remote_path": {"S": listed["filePath"]},
                "status": {"S": "retrieving"},
                "claimed_at": {"S": now()},
            },
            ConditionExpression="attribute_not_exists(pk) OR (version <> :version)",
            ExpressionAttributeValues={":version": {"S": version}},
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def record_retrieval(session: Any, settings: AckSettings, detail: dict[str, Any]) -> dict[str, Any]:
    name = posixpath.basename(detail["file-path"])
    dynamodb = session.client("dynamodb")
    if detail.get("status-code") == "COMPLETED":
        dynamodb.update_item(
            TableName=settings.table,
            Key=_retrieval_key(name),
            UpdateExpression="SET #status = :status, retrieved_at = :at",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":status": {"S": "retrieved"}, ":at": {"S": now()}},
        )
        return {"file": name, "status": "retrieved"}
    dynamodb.delete_item(TableName=settings.table, Key=_retrieval_key(name))  # the next poll retries
    logger().error(
        "acknowledgement not retrieved; the next poll tries again",
        extra={"file": name, "failure": detail.get("failure-message")},
    )
    return {"file": name, "status": "failed", "failure": detail.get("failure-message", "")}


# ----------------------------------------------------------------------------- 3. index


@dataclass
class AckIndex:
    file: str
    chunk_stem: str
    status: str = "valid"  # valid | invalid
    reason: str = ""
    rows: int = 0
    by_status: Counter[str] | None = None
    duplicates: list[str] | None = None
    problems: list[str] | None = None
    problem_count: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "chunk_stem": self.chunk_stem,
            "status": self.status,
            "reason": self.reason,
            "rows": self.rows,
            "by_status": dict(self.by_status or {}),
            "duplicates": self.duplicates or [],
            "problems": self.problems or [],
            "problem_count": self.problem_count,
        }


def check_acknowledgement(name: str, lines: Any) -> AckIndex:
    """Check an acknowledgement file's lines (decoded text, streamed); never raises on bad content."""
    index = AckIndex(file=name, chunk_stem=name.removesuffix(ACK_SUFFIX), by_status=Counter())
    seen: Counter[str] = Counter()
    problems: list[str] = []
    try:
        reader = csv.DictReader(lines)
        header = tuple(reader.fieldnames or ())
        if header[: len(ACK_FIELDS)] != ACK_FIELDS:
            return _invalid(
                index, f"wrong header {','.join(header)[:200]!r}; expected {','.join(ACK_FIELDS)}"
            )
        for line_number, row in enumerate(reader, start=2):
            index.rows += 1
            seen[row["end_to_end_id"]] += 1
            index.by_status[row["ack_status"] or "(empty)"] += 1
            problem = _row_problem(row)
            if problem:
                index.problem_count += 1
                if len(problems) < MAX_PROBLEMS:
                    problems.append(f"line {line_number}: {problem}")
    except UnicodeDecodeError as exc:
        return _invalid(index, f"not UTF-8 ({exc.reason} at byte {exc.start})")
    except csv.Error as exc:
        return _invalid(index, f"not CSV ({exc})")
    index.duplicates = sorted(e2e for e2e, count in seen.items() if count > 1)
    index.problems = problems
    return index


def _invalid(index: AckIndex, reason: str) -> AckIndex:
    index.status, index.reason = "invalid", reason
    return index


def _row_problem(row: dict[str, str]) -> str | None:
    if not row.get("end_to_end_id"):
        return "end_to_end_id is empty"
    amount = row.get("amount") or ""
    if not _AMOUNT.match(amount):
        return f"amount {amount!r} is not a decimal"
    try:
        Decimal(amount)
    except InvalidOperation:
        return f"amount {amount!r} is not a decimal"
    if not _CURRENCY.match(row.get("currency") or ""):
        return f"currency {row.get('currency')!r} is not an ISO 4217 code"
    if not row.get("ack_status"):
        return "ack_status is empty"
    return None


def index_acknowledgement(session: Any, settings: AckSettings, key: str) -> dict[str, Any]:
    s3 = session.client("s3")
    name = posixpath.basename(key)
    body = s3.get_object(Bucket=settings.bucket, Key=key)["Body"]
    index = check_acknowledgement(name, _text_lines(body))
    s3.put_object(
        Bucket=settings.bucket,
        Key=f"{BRIDGE_ACK_INDEX_PREFIX}{name}.json",
        Body=json.dumps({**index.to_json(), "key": key}, sort_keys=True).encode(),
        ContentType="application/json",
    )
    dynamodb = session.client("dynamodb")
    dynamodb.put_item(
        TableName=settings.table,
        Item={
            "pk": {"S": f"ack#{name}"},
            "sk": {"S": "index"},
            "key": {"S": key},
            "index": {"S": json.dumps(index.to_json(), sort_keys=True)},
            "status": {"S": index.status},
            "rows": {"N": str(index.rows)},
            "indexed_at": {"S": now()},
        },
    )
    _note_acknowledged(dynamodb, settings.table, index.chunk_stem, name)
    log = logger().info if index.status == "valid" else logger().error
    log("acknowledgement indexed", extra={"file": name, "status": index.status, "reason": index.reason})
    return index.to_json()


def _text_lines(body: Any):
    """Decoded lines of a streaming S3 body (never the whole file in memory)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = ""
    for raw in body.iter_chunks(64 * 1024):
        pending += decoder.decode(raw)
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _note_acknowledged(dynamodb: Any, table: str, stem: str, ack_name: str) -> None:
    for extension in (".csv", ".jsonl"):
        try:
            dynamodb.update_item(
                TableName=table,
                Key=delivery_key(stem + extension),
                UpdateExpression="SET acknowledged_by = :ack, acknowledged_at = :at",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":ack": {"S": ack_name}, ":at": {"S": now()}},
            )
            return
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
