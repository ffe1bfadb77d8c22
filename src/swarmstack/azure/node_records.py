"""What each scale-set instance says about itself on its serial console (boot diagnostics).

The node agent writes one line per event, "swarmstack-node {json}": its instance, role,
address, whether its node is Ready in the swarm (null on clusters an earlier swarmstack formed
over SSH), and its SSH host keys (nodeagent/azure.py). `azure deploy` waits for a Ready record
from every instance; `azure status` lists them.
Azure keeps the console log as boot diagnostics; Resource Manager hands out a short-lived
read URL for it (retrieveBootDiagnosticsData), reachable from where the CLI runs - unlike the
cluster's vault and storage, which accept only the cluster's subnet. Only root on the VM
writes its console, so a record names that VM's own keys; the last record of the right
instance at the start of a line wins.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..handoff import SILENT_HINT, wait_for_each
from ..provisioners.nodeagent.azure import NODE_RECORD_PREFIX
from .clients import AzureClients, as_dict
from .failures import azure_errors

# Minutes the console log's read URL stays valid; one read follows at once.
SAS_MINUTES = 5


@dataclass(frozen=True)
class NodeRecord:
    instance: str  # "<scale set>_<instance id>", as instance metadata names it
    role: str
    address: str
    zone: str
    ready: bool | None  # None: the agent does not form this swarm (no vault: formed over SSH)
    host_keys: str


def last_record(console: str, instance: str) -> NodeRecord | None:
    """The newest well-formed record this instance wrote, or None."""
    found = None
    for line in console.splitlines():
        # At the start of a line only, as the agent writes it: text that other programs
        # log (kernel, systemd, cloud-init) comes with a prefix of its own.
        if not line.startswith(NODE_RECORD_PREFIX):
            continue
        try:
            data = json.loads(line[len(NODE_RECORD_PREFIX) :])
            record = NodeRecord(
                instance=str(data["instance"]),
                role=str(data["role"]),
                address=str(data["address"]),
                zone=str(data["zone"]),
                ready=None if data["ready"] is None else data["ready"] is True,
                host_keys=str(data["host_keys"]),
            )
        except (ValueError, KeyError, TypeError):
            continue  # a line cut by the console's buffer, or noise
        if record.instance == instance:
            found = record
    return found


def read_console(clients: AzureClients, group: str, scale_set: str, instance_id: str) -> str:
    """The instance's serial console log so far ("" before Azure has any)."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import RetryPolicy
    from azure.core.rest import HttpRequest

    with azure_errors(f"boot diagnostics of {scale_set}_{instance_id}"):
        data: dict[str, Any] = as_dict(
            clients.compute.virtual_machine_scale_set_vms.retrieve_boot_diagnostics_data(
                group, scale_set, instance_id, sas_uri_expiration_time_in_minutes=SAS_MINUTES
            )
        )
    url = str(data.get("serial_console_log_blob_uri") or data.get("serialConsoleLogBlobUri") or "")
    if not url:
        return ""
    # A plain GET: the URL carries its own signature (no bearer token to a blob endpoint).
    # Retries only: the log is plain bytes (no content decoding; any content type).
    blob: Any = PipelineClient(base_url=url, policies=[RetryPolicy()])
    with blob:
        response = blob.send_request(HttpRequest("GET", url))
    if response.status_code == 404:
        return ""
    response.raise_for_status()
    return str(response.text())


def wait_for_records(
    read: Callable[[str], NodeRecord | None],
    instances: Sequence[str],
    *,
    ready: bool,
    timeout: float,
    poll: float = 10.0,
    info: Callable[[str], None] = lambda _line: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, NodeRecord]:
    """Read each instance's record until all have one (with ``ready``: a Ready one)."""

    def wanted(instance: str) -> NodeRecord | None:
        record = read(instance)
        return record if record is not None and (record.ready is True or not ready) else None

    what = "Ready in the swarm" if ready else "publishing their host keys"
    return wait_for_each(
        wanted,
        instances,
        what,
        timeout=timeout,
        poll=poll,
        info=info,
        clock=clock,
        sleep=sleep,
        hint=NOT_READY_HINT if ready else SILENT_HINT,
    )


NOT_READY_HINT = (
    "the swarm may still be forming: `swarmstack azure status` shows each node's record; a "
    "node's serial console (boot diagnostics) shows cloud-init and swarmstack-agent"
)
