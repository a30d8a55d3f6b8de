"""The payment bridge's far side in local mode: the new owner's SFTP endpoint and its Java side.

Started by `LocalCloud` when the runbook has a `payment_bridge:` section, before the deploy (the
port is picked free at start, and the deploy points the connector at it), stopped with the cloud:

- a real SFTP server on 127.0.0.1 (`sftp_server.LocalSftpServer`) with a fresh pinned host key and
  the runbook's SFTP user, accepting one fresh client key;
- the connector's credentials secret seeded with that user and private key (the JSON AWS
  documents: `Username`, `PrivateKey`), and the connector's URL and trusted host key replaced by
  the local server's (`DeployTarget.connector_endpoint`): everything else comes from `cdk.out`;
- the counterparty (`counterparty.Counterparty`) writing acknowledgements;
- the acknowledgement poll: the stack's `ack-poll` schedule rule fired every 5 simulated minutes
  (at least 30 real seconds apart), as EventBridge would; tests call `poll_now`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.contracts import BRIDGE_ACK_POLL_MINUTES, BRIDGE_ACK_POLL_RULE, bridge_resource_name
from wavectl.local.counterparty import Counterparty
from wavectl.local.sftp_server import LocalSftpServer, new_key, public_line

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

MIN_POLL_SECONDS = 30.0  # real seconds between polls at least (each is an SFTP session)


class LocalBridge:
    def __init__(self, settings: Any, root: Path | None = None) -> None:
        self.settings = settings
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="wavectl-sftp-"))
        self.client_key = new_key()
        self.server = LocalSftpServer(
            self.root, user=settings.sftp.user, client_public_key=public_line(self.client_key)
        )
        self.counterparty = Counterparty(
            self.server,
            inbox=settings.remote_directories.outbound,
            outbox=settings.remote_directories.acknowledgements,
        )
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def start(self) -> LocalBridge:
        self.server.start()
        self.counterparty.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(5)
        self.counterparty.stop()
        self.server.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ deploy overrides

    def secret_values(self) -> dict[str, str]:
        private = self.client_key.export_private_key("openssh").decode()
        value = {"Username": self.settings.sftp.user, "PrivateKey": private}
        return {self.settings.sftp.credentials_secret: json.dumps(value)}

    def connector_endpoint(self) -> tuple[str, list[str]]:
        return self.server.url, [self.server.host_public_key]

    # ------------------------------------------------------------------ the acknowledgement poll

    def start_polling(self, cloud: LocalCloud) -> None:
        program = cloud.runbook.program.program
        rule = bridge_resource_name(program, BRIDGE_ACK_POLL_RULE)
        interval = max(cloud.speed.wait_seconds(BRIDGE_ACK_POLL_MINUTES * 60), MIN_POLL_SECONDS)
        account = cloud.runbook.program.accounts.tooling

        def poll() -> None:
            while not self._stop.wait(interval):
                cloud.events.fire_schedule(account, cloud.region, rule)

        self._poller = threading.Thread(target=poll, name="bridge-ack-poll", daemon=True)
        self._poller.start()

    def poll_now(self, cloud: LocalCloud) -> None:
        """Fire the acknowledgement poll once (tests that do not want to wait for the schedule)."""
        rule = bridge_resource_name(cloud.runbook.program.program, BRIDGE_ACK_POLL_RULE)
        cloud.events.fire_schedule(cloud.runbook.program.accounts.tooling, cloud.region, rule)
