"""The hand-off from `azure deploy` to the SSH bootstrap (issue 5/6, swarmstack.provisioners).

MERGE: `bootstrap_discovered_nodes` is the one function the lead wires to
`swarmstack.provisioners.bootstrap` once it lands: the discovery holds every node's role,
private IP and SSH route (managers: public IP + NAT port; workers: through a manager).
"""

from __future__ import annotations

from ..output import Output
from ..spec import ClusterSpec
from .discover import Discovery


def bootstrap_discovered_nodes(output: Output, spec: ClusterSpec, discovery: Discovery) -> bool:
    """Form the swarm on the discovered nodes. Returns False while the bootstrap is not wired."""
    output.warn(
        f"SSH bootstrap not run: it is not part of this build yet; the {len(discovery.nodes)} "
        f"node(s) of {spec.name} are listed in the result"
    )
    return False
