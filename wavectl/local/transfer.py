"""AWS Transfer Family SFTP connectors that really transfer, in the embedded AWS.

moto 5.2.5 stores connectors (`CreateConnector`, `DescribeConnector`, ...) but has no
`StartFileTransfer`, `ListFileTransferResults` or `StartDirectoryListing`. They are added to
moto's Transfer API here, with AWS's request and response shapes:

- `StartFileTransfer` returns a `TransferId` at once; the transfer itself runs on a worker thread
  (outside the backend lock), as a real SFTP session (asyncssh client) to the connector's `Url`:
  the server must present one of the connector's `TrustedHostKeys` (otherwise the session is
  refused before authentication and nothing is sent), and the client authenticates with the
  `Username` and `PrivateKey` of the connector's `UserSecretId` secret (the JSON AWS documents).
  `SendFilePaths` (`/bucket/key`) are uploaded into `RemoteDirectoryPath`; `RetrieveFilePaths`
  (remote paths) are downloaded into `LocalDirectoryPath` (`/bucket/prefix`).
- Each file's result is put on the default event bus as AWS does: source `aws.transfer`,
  detail-type `SFTP Connector File Send Completed` / `... Send Failed` / `... Retrieve Completed` /
  `... Retrieve Failed`, with the documented detail fields.
- `StartDirectoryListing` writes `<connector-id>-<listing-id>.json` (`files`, `paths`,
  `truncated`) into `OutputDirectoryPath`.

Only `sftp://127.0.0.1` URLs are reached: the embedded AWS never contacts anything else.
Failure codes are this emulation's own (`HOST_KEY_NOT_TRUSTED`, `AUTHENTICATION_FAILED`,
`CONNECTION_ERROR`, `FILE_NOT_FOUND`): AWS does not publish its list.
"""

from __future__ import annotations

import asyncio
import json
import posixpath
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import asyncssh

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

ALLOWED_HOSTS = ("127.0.0.1", "localhost")
SEND, RETRIEVE = "SEND", "RETRIEVE"
_DETAIL_TYPES = {
    (SEND, True): "SFTP Connector File Send Completed",
    (SEND, False): "SFTP Connector File Send Failed",
    (RETRIEVE, True): "SFTP Connector File Retrieve Completed",
    (RETRIEVE, False): "SFTP Connector File Retrieve Failed",
}


class TransferFailure(Exception):
    """One file could not be transferred; `code` goes into the event's failure-code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class FileResult:
    file_path: str
    status: str = "QUEUED"  # QUEUED | IN_PROGRESS | COMPLETED | FAILED
    failure_code: str | None = None
    failure_message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        result = {"FilePath": self.file_path, "StatusCode": self.status}
        if self.failure_code:
            result |= {"FailureCode": self.failure_code, "FailureMessage": self.failure_message}
        return result


@dataclass(frozen=True)
class ConnectorView:
    """What a transfer needs of a connector, read under the backend lock."""

    account: str
    region: str
    connector_id: str
    arn: str
    url: str
    trusted_host_keys: tuple[str, ...]
    user_secret_id: str


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _split_s3_path(path: str) -> tuple[str, str]:
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


def host_key_of(line: str) -> asyncssh.SSHKey:
    """A trusted host key as the connector stores it: `type base64` or known_hosts `host type base64`."""
    parts = line.split()
    for index, part in enumerate(parts[:-1]):
        if part.startswith(("ssh-", "ecdsa-", "rsa-sha2")):
            return asyncssh.import_public_key(f"{part} {parts[index + 1]}")
    raise TransferFailure(
        "HOST_KEY_NOT_TRUSTED", f"trusted host key {line[:40]!r} is not an OpenSSH key line"
    )


class LocalTransfer:
    """The connector operations of the embedded AWS (see the module docstring)."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.results: dict[str, dict[str, FileResult]] = {}  # transfer id -> file path -> result
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ API (under the backend lock)

    def start_file_transfer(self, response: Any) -> str:
        params = json.loads(response.body)
        connector = self._connector(response, params.get("ConnectorId"))
        send, retrieve = params.get("SendFilePaths") or [], params.get("RetrieveFilePaths") or []
        if bool(send) == bool(retrieve):
            raise _validation("exactly one of SendFilePaths and RetrieveFilePaths is required")
        if retrieve and not params.get("LocalDirectoryPath"):
            raise _validation("LocalDirectoryPath is required with RetrieveFilePaths")
        operation = SEND if send else RETRIEVE
        transfer_id = str(uuid.uuid4())
        paths = list(send or retrieve)
        with self._lock:
            self.results[transfer_id] = {p: FileResult(p) for p in paths}
        self.cloud.events.run_async(
            self._transfer,
            connector,
            transfer_id,
            operation,
            paths,
            params.get("RemoteDirectoryPath") or "",
            params.get("LocalDirectoryPath") or "",
        )
        return json.dumps({"TransferId": transfer_id})

    def list_file_transfer_results(self, response: Any) -> str:
        params = json.loads(response.body)
        self._connector(response, params.get("ConnectorId"))
        with self._lock:
            results = self.results.get(params.get("TransferId"), {})
            return json.dumps({"FileTransferResults": [r.to_dict() for r in results.values()]})

    def start_directory_listing(self, response: Any) -> str:
        params = json.loads(response.body)
        connector = self._connector(response, params.get("ConnectorId"))
        listing_id = str(uuid.uuid4())
        output_name = f"{connector.connector_id}-{listing_id}.json"
        self.cloud.events.run_async(
            self._listing,
            connector,
            params["RemoteDirectoryPath"],
            params["OutputDirectoryPath"],
            output_name,
            int(params.get("MaxItems") or 1000),
        )
        return json.dumps({"ListingId": listing_id, "OutputFileName": output_name})

    def _connector(self, response: Any, connector_id: str | None) -> ConnectorView:
        backend = response.transfer_backend
        connector = backend.describe_connector(connector_id or "")
        sftp = connector.sftp_config or {}
        return ConnectorView(
            account=connector.account_id,
            region=connector.region_name,
            connector_id=connector.connector_id,
            arn=connector.arn,
            url=connector.url,
            trusted_host_keys=tuple(sftp.get("trusted_host_keys") or ()),
            user_secret_id=sftp.get("user_secret_id") or "",
        )

    # ------------------------------------------------------------------ work (worker thread, no lock)

    def _transfer(
        self,
        connector: ConnectorView,
        transfer_id: str,
        operation: str,
        paths: list[str],
        remote: str,
        local: str,
    ) -> None:
        session = self.cloud.account_session(connector.account)
        s3 = session.client("s3", region_name=connector.region)
        for path in paths:
            started = _now()
            self._set(transfer_id, path, "IN_PROGRESS")
            detail: dict[str, Any] = {}
            try:
                if operation == SEND:
                    detail = self._send(connector, s3, path, remote)
                else:
                    detail = self._retrieve(connector, s3, path, local)
                self._set(transfer_id, path, "COMPLETED")
                ok, failure = True, None
            except TransferFailure as exc:
                self._set(transfer_id, path, "FAILED", exc.code, str(exc))
                ok, failure = False, exc
            self._emit(connector, transfer_id, operation, path, started, ok, failure, detail, remote, local)

    def _send(self, connector: ConnectorView, s3: Any, path: str, remote: str) -> dict[str, Any]:
        bucket, key = _split_s3_path(path)
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            raise TransferFailure("FILE_NOT_FOUND", f"cannot read s3://{bucket}/{key}: {exc}") from exc
        target = posixpath.join(remote or "/", posixpath.basename(key))
        self._sftp(connector, _upload(target, body))
        return {"bytes": len(body), "local-file-location": {"domain": "S3", "bucket": bucket, "key": key}}

    def _retrieve(self, connector: ConnectorView, s3: Any, path: str, local: str) -> dict[str, Any]:
        body = self._sftp(connector, _download(path))
        bucket, prefix = _split_s3_path(local)
        key = posixpath.join(prefix, posixpath.basename(path)) if prefix else posixpath.basename(path)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        return {"bytes": len(body), "local-file-location": {"domain": "S3", "bucket": bucket, "key": key}}

    def _listing(self, connector: ConnectorView, remote: str, output: str, name: str, max_items: int) -> None:
        files, paths = self._sftp(connector, _list(remote))
        truncated = len(files) + len(paths) > max_items
        listing = {"files": files[:max_items], "paths": paths[: max(max_items - len(files), 0)]}
        bucket, prefix = _split_s3_path(output)
        key = posixpath.join(prefix, name) if prefix else name
        s3 = self.cloud.account_session(connector.account).client("s3", region_name=connector.region)
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps({**listing, "truncated": truncated}).encode())

    def _sftp(self, connector: ConnectorView, action: Any) -> Any:
        """Run `action(sftp_client)` in one SFTP session to the connector's endpoint."""
        url = urlparse(connector.url)
        if url.scheme != "sftp" or url.hostname not in ALLOWED_HOSTS:
            raise TransferFailure(
                "CONNECTION_ERROR", f"the embedded AWS only reaches sftp://127.0.0.1, not {connector.url}"
            )
        username, private_key = self._credentials(connector)
        trusted = [host_key_of(line) for line in connector.trusted_host_keys]
        if not trusted:
            raise TransferFailure("HOST_KEY_NOT_TRUSTED", "the connector has no trusted host keys")

        async def run() -> Any:
            async with (
                asyncssh.connect(
                    url.hostname,
                    url.port or 22,
                    username=username,
                    client_keys=[private_key],
                    known_hosts=(trusted, [], []),
                    password=None,
                    agent_path=None,
                    config=(),
                    connect_timeout=10,
                ) as conn,
                conn.start_sftp_client() as sftp,
            ):
                return await action(sftp)

        try:
            return asyncio.run(run())
        except asyncssh.HostKeyNotVerifiable as exc:
            raise TransferFailure(
                "HOST_KEY_NOT_TRUSTED",
                f"{url.hostname}:{url.port} presented a host key that is not among the connector's "
                f"trusted host keys; the session was refused and nothing was sent ({exc})",
            ) from exc
        except asyncssh.PermissionDenied as exc:
            raise TransferFailure("AUTHENTICATION_FAILED", f"{username}@{url.hostname}: {exc}") from exc
        except (asyncssh.SFTPNoSuchFile, FileNotFoundError) as exc:
            raise TransferFailure("FILE_NOT_FOUND", str(exc)) from exc
        except (OSError, asyncssh.Error) as exc:
            raise TransferFailure("CONNECTION_ERROR", f"{connector.url}: {exc}") from exc

    def _credentials(self, connector: ConnectorView) -> tuple[str, asyncssh.SSHKey]:
        secrets = self.cloud.account_session(connector.account).client(
            "secretsmanager", region_name=connector.region
        )
        try:
            value = json.loads(secrets.get_secret_value(SecretId=connector.user_secret_id)["SecretString"])
            return value["Username"], asyncssh.import_private_key(value["PrivateKey"])
        except Exception as exc:
            raise TransferFailure(
                "AUTHENTICATION_FAILED",
                f"secret {connector.user_secret_id!r} must be JSON with Username and PrivateKey "
                f"({type(exc).__name__})",
            ) from exc

    # ------------------------------------------------------------------ results and events

    def _set(
        self, transfer_id: str, path: str, status: str, code: str | None = None, message: str | None = None
    ):
        with self._lock:
            result = self.results[transfer_id][path]
            result.status, result.failure_code, result.failure_message = status, code, message

    def _emit(
        self,
        connector: ConnectorView,
        transfer_id: str,
        operation: str,
        path: str,
        started: str,
        ok: bool,
        failure: TransferFailure | None,
        detail: dict[str, Any],
        remote: str,
        local: str,
    ) -> None:
        body: dict[str, Any] = {
            "operation": operation,
            "connector-id": connector.connector_id,
            "transfer-id": transfer_id,
            "file-transfer-id": str(uuid.uuid4()),
            "url": connector.url,
            "file-path": path,
            "status-code": "COMPLETED" if ok else "FAILED",
            "start-timestamp": started,
            "end-timestamp": _now(),
            **detail,
        }
        if remote:
            body["remote-directory-path"] = remote
        if local:
            body["local-directory-path"] = local
        if failure is not None:
            body |= {"failure-code": failure.code, "failure-message": str(failure)}
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": _DETAIL_TYPES[(operation, ok)],
            "source": "aws.transfer",
            "account": connector.account,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": connector.region,
            "resources": [connector.arn],
            "detail": body,
        }
        self.cloud.events.publish(connector.account, connector.region, event)


def _upload(target: str, body: bytes):
    async def action(sftp: asyncssh.SFTPClient) -> None:
        directory = posixpath.dirname(target)
        if directory not in ("", "/"):
            await sftp.makedirs(directory, exist_ok=True)
        async with sftp.open(target, "wb") as handle:
            await handle.write(body)

    return action


def _download(path: str):
    async def action(sftp: asyncssh.SFTPClient) -> bytes:
        async with sftp.open(path, "rb") as handle:
            return await handle.read()

    return action


def _list(remote: str):
    async def action(sftp: asyncssh.SFTPClient) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        files: list[dict[str, Any]] = []
        paths: list[dict[str, Any]] = []
        for entry in await sftp.readdir(remote):
            if entry.filename in (".", ".."):
                continue
            full = posixpath.join(remote, entry.filename)
            if entry.attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
                paths.append({"path": full})
                continue
            item: dict[str, Any] = {"filePath": full}
            if entry.attrs.mtime is not None:
                item["modifiedTimestamp"] = datetime.fromtimestamp(entry.attrs.mtime, UTC).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )
            if entry.attrs.size is not None:
                item["size"] = entry.attrs.size
            files.append(item)
        return sorted(files, key=lambda f: f["filePath"]), paths

    return action


def _validation(message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError("InvalidRequestException", message)


def transfer_patches(cloud: LocalCloud) -> list[tuple[Any, str, Any]]:
    """The Transfer API operations moto lacks, bound to `cloud.transfer`."""
    from moto.transfer.responses import TransferResponse

    def operation(name: str):
        def call(response: Any) -> str:
            return getattr(cloud.transfer, name)(response)

        return call

    return [
        (TransferResponse, name, operation(name))
        for name in ("start_file_transfer", "list_file_transfer_results", "start_directory_listing")
    ]
