"""A real SFTP server on 127.0.0.1: the new owner's on-premise endpoint in local mode.

asyncssh in server mode, on its own event loop thread:

- listens on 127.0.0.1 only, on a port the OS picks free at start (`url` tells which);
- presents one pinned host key (`host_public_key`, an OpenSSH line: what the connector trusts);
- accepts exactly one user, by public key only (no passwords, no keyboard-interactive);
- serves SFTP only (no shell, no exec, no port forwarding, no SCP), chrooted to `root`;
- tells listeners when an uploaded file is closed (`on_file_written`): the counterparty picks
  files up the way an inotify watcher on the real host would.

    server = LocalSftpServer(root, user="globex-bridge", client_public_key=pub)
    server.start(); ...; server.stop()
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

LOCALHOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedFile:
    """A file a client finished writing: its path relative to the server's root, and size."""

    path: str
    size: int


def new_key() -> asyncssh.SSHKey:
    """A fresh Ed25519 key (host keys and client keys alike)."""
    return asyncssh.generate_private_key("ssh-ed25519")


def public_line(key: asyncssh.SSHKey) -> str:
    """`ssh-ed25519 AAAA...` without a comment: the form TrustedHostKeys and authorized_keys take."""
    return " ".join(key.export_public_key("openssh").decode().split()[:2])


class _Auth(asyncssh.SSHServer):
    def __init__(self, server: LocalSftpServer) -> None:
        self._server = server

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._server.connections += 1

    def begin_auth(self, username: str) -> bool:
        return True  # every user must authenticate

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self._server.user and public_line(key) == self._server.client_public_key

    def auth_completed(self) -> None:
        self._server.logins += 1


class LocalSftpServer:
    """See the module docstring."""

    def __init__(
        self,
        root: Path,
        *,
        user: str,
        client_public_key: str,
        host_key: asyncssh.SSHKey | None = None,
    ) -> None:
        self.root = Path(root)
        self.user = user
        self.client_public_key = " ".join(client_public_key.split()[:2])
        self.host_key = host_key or new_key()
        self.port = 0
        self.connections = 0  # TCP connections accepted (including refused handshakes)
        self.logins = 0  # successful key authentications
        self.received: list[ReceivedFile] = []
        self._listeners: list[Callable[[ReceivedFile], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._acceptor: Any = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def host_public_key(self) -> str:
        return public_line(self.host_key)

    @property
    def url(self) -> str:
        return f"sftp://{LOCALHOST}:{self.port}"

    def on_file_written(self, listener: Callable[[ReceivedFile], None]) -> None:
        self._listeners.append(listener)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalSftpServer:
        self.root.mkdir(parents=True, exist_ok=True)
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._listen())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="local-sftp-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise RuntimeError(f"local SFTP server did not start: {failure[0]}") from failure[0]
        return self

    async def _listen(self) -> None:
        self._acceptor = await asyncssh.listen(
            LOCALHOST,
            0,
            server_host_keys=[self.host_key],
            server_factory=lambda: _Auth(self),
            sftp_factory=self._sftp_session,
            allow_scp=False,
            agent_forwarding=False,
            allow_pty=False,
            x11_forwarding=False,
            process_factory=None,
        )
        self.port = self._acceptor.get_port()

    def stop(self) -> None:
        loop, acceptor = self._loop, self._acceptor
        if loop is None or not loop.is_running():
            return

        async def close() -> None:
            if acceptor is not None:
                acceptor.close()
                await acceptor.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> LocalSftpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ SFTP sessions

    def _sftp_session(self, channel: Any) -> asyncssh.SFTPServer:
        return _RecordingSftp(channel, self)

    def _file_closed(self, absolute: Path) -> None:
        if not absolute.is_file():
            return
        received = ReceivedFile(absolute.relative_to(self.root).as_posix(), absolute.stat().st_size)
        with self._lock:
            self.received.append(received)
        for listener in list(self._listeners):
            listener(received)


class _RecordingSftp(asyncssh.SFTPServer):
    """asyncssh's file-system SFTP server, chrooted, noting every file opened for writing."""

    def __init__(self, channel: Any, server: LocalSftpServer) -> None:
        super().__init__(channel, chroot=str(server.root).encode())
        self._server = server
        self._writing: dict[int, Path] = {}

    def open(self, path: bytes, pflags: int, attrs: Any) -> object:
        handle = super().open(path, pflags, attrs)
        if pflags & asyncssh.FXF_WRITE:
            self._writing[id(handle)] = Path(self.map_path(path).decode())
        return handle

    def close(self, file_obj: object) -> None:
        super().close(file_obj)
        written = self._writing.pop(id(file_obj), None)
        if written is not None:
            self._server._file_closed(written)
