"""What the clouds, the hosts and the planner must agree on - defined once, imported everywhere.

A port opened in a security group, a tag the boot script reads back from instance metadata, a
label the planner compares, a marker file the facts command reads: each is written here and
nowhere else, so the parts that meet on a running host cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# --- swarm ports (Docker's own numbers) ----------------------------------------------------

SWARM_PORT: Final = 2377  # TCP: cluster management (raft, joins); managers only
GOSSIP_PORT: Final = 7946  # TCP and UDP: node discovery
DEFAULT_DATA_PATH_PORT: Final = 4789  # UDP: VXLAN overlay traffic (the spec may change it)

# --- manager counts --------------------------------------------------------------------------

MANAGER_SIZES: Final = (1, 3, 5, 7)
# The phrase every error and help text uses for MANAGER_SIZES.
MANAGER_SIZES_PHRASE: Final = "1, 3, 5 or 7"


def quorum(managers: int) -> int:
    """Raft needs a majority of managers to agree."""
    return managers // 2 + 1


# --- tags on cloud resources (one spelling on AWS, Azure and the local machines) -------------
# Instance tags are read at boot through instance metadata; EC2 exposes there only keys made
# of letters, digits and +-=.,_:@ - and ':' is avoided so each key is a plain file name under
# /latest/meta-data/tags/instance/. Azure accepts the same keys.

TAG_PREFIX: Final = "swarmstack-"
CLUSTER_TAG: Final = "swarmstack-cluster"  # value: the cluster (stack) name; marks what is ours
ROLE_TAG: Final = "swarmstack-role"  # manager or worker
LOG_GROUP_TAG: Final = "swarmstack-log-group"  # AWS: the CloudWatch log group for awslogs
SYSTEM_PRUNE_TAG: Final = "swarmstack-system-prune"  # yes/no: the daily prune timer
# Azure resources deployed by earlier swarmstack builds carry this key instead of CLUSTER_TAG.
# It is read (so deploy and destroy still recognise them) and never written.
LEGACY_AZURE_CLUSTER_TAG: Final = "swarmstack:cluster"


def tagged_cluster(tags: Mapping[str, str] | None) -> str | None:
    """The cluster a resource's tags say it belongs to (either spelling), or None."""
    tags = tags or {}
    return tags.get(CLUSTER_TAG, tags.get(LEGACY_AZURE_CLUSTER_TAG))


# --- node labels the planner sets and compares ---------------------------------------------

LABEL_ROLE: Final = "swarmstack.role"
LABEL_ZONE: Final = "swarmstack.zone"
LABEL_INSTANCE: Final = "swarmstack.instance-id"

# --- files on every host ---------------------------------------------------------------------

STATE_DIR: Final = "/var/lib/swarmstack"
# dockerd's API socket, which the SSH steps and facts reach with curl.
DOCKER_SOCKET: Final = "/var/run/docker.sock"
# Written last by the host tuning (cloud-init or SSH): one JSON line whose "tuning" key is the
# digest of the tuning it applied. The SSH facts read it; a host whose digest matches is not
# tuned again.
TUNING_MARKER: Final = f"{STATE_DIR}/host-tuned"
