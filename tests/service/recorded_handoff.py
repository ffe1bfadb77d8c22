"""The SSH hand-off of `aws launch-stack` and `azure deploy` recorded instead of run: what the
published-host-key tests of both clouds check is what the bootstrap would have been handed."""

from __future__ import annotations

from typing import Any

import pytest

from swarmstack.provisioners.inventory import Host, SshSettings
from swarmstack.spec import ClusterSpec


def recording_bootstrap(monkeypatch: pytest.MonkeyPatch, cloud: str) -> dict[str, Any]:
    """swarmstack.<cloud>.handoff's bootstrap replaced: it records the hosts and the
    known_hosts text it is handed (under "hosts" and "known_hosts" of the returned dict)."""
    handed: dict[str, Any] = {}

    def bootstrap(spec: ClusterSpec, hosts: list[Host], ssh: SshSettings, _: Any) -> Any:
        handed.update(hosts=hosts, known_hosts=ssh.known_hosts.read_text())
        return {"status": "recorded"}

    monkeypatch.setattr(f"swarmstack.{cloud}.handoff.bootstrap_hosts", bootstrap)
    return handed
