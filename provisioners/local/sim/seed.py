"""cloud-init's NoCloud seed for a simulated instance: what EC2 would hand cloud-init, plus the
two endpoint variables that make the simulation reachable.

Written into the machine's root before it boots, at var/lib/cloud/seed/nocloud/:
- user-data: the launch template's user data exactly as EC2 hands it (base64-decoded, still
  gzip-compressed when it was; cloud-init recognises gzip by its magic bytes);
- meta-data: instance-id and local-hostname;
- vendor-data: a boothook that sets AWS_ENDPOINT_URL and AWS_EC2_METADATA_SERVICE_ENDPOINT for
  everything on the machine. These are the only differences from EC2.

Why a boothook: vendor cloud-config would be merged under the user data's, and the user data's
own `write_files`/`bootcmd` would replace it. A boothook runs early in every boot (cloud-init's
network stage), before cloud-final runs the user data's commands; `systemctl set-environment`
gives the variables to every unit started after it (cloud-final, docker, the node agent), the
systemd drop-in keeps them for later boots, /etc/environment and profile.d give them to logins.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

SEED_DIR = "var/lib/cloud/seed/nocloud"
ENDPOINT_URL = "AWS_ENDPOINT_URL"
METADATA_ENDPOINT = "AWS_EC2_METADATA_SERVICE_ENDPOINT"
SYSTEMD_DROPIN = "/etc/systemd/system.conf.d/50-swarmstack-sim.conf"
PROFILE_SCRIPT = "/etc/profile.d/swarmstack-sim.sh"


@dataclass(frozen=True)
class Endpoints:
    """Where the machines reach the simulated AWS: moto's server and the IMDS emulation."""

    aws: str  # http://198.18.N.1:PORT
    metadata: str  # http://198.18.N.1:PORT/

    def variables(self) -> dict[str, str]:
        return {ENDPOINT_URL: self.aws, METADATA_ENDPOINT: self.metadata}


class EndpointVariables(Protocol):
    """A cloud's endpoints as the environment variables its SDKs and agents honour."""

    def variables(self) -> dict[str, str]: ...


def meta_data(instance_id: str, hostname: str) -> str:
    return f"instance-id: {instance_id}\nlocal-hostname: {hostname}\n"


def vendor_data(endpoints: EndpointVariables) -> str:
    """A boothook (shell, run as root at every boot) that installs the endpoint variables."""
    variables = endpoints.variables()
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in variables.items())
    names = "|".join(variables)
    environment_lines = "\n".join(f"{k}={v}" for k, v in variables.items())
    exports = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in variables.items())
    systemd_values = " ".join(f'"{k}={v}"' for k, v in variables.items())
    return f"""#cloud-boothook
#!/bin/sh
# swarmstack simulation: the cloud's APIs and its instance metadata service are reached
# through these endpoints instead of the cloud's own; nothing else differs from the cloud.
set -e
systemctl set-environment {assignments}
mkdir -p {Path(SYSTEMD_DROPIN).parent}
cat >{SYSTEMD_DROPIN} <<'EOF'
[Manager]
DefaultEnvironment={systemd_values}
EOF
cat >{PROFILE_SCRIPT} <<'EOF'
{exports}
EOF
touch /etc/environment
grep -Ev '^({names})=' /etc/environment >/etc/environment.swarmstack || true
cat >>/etc/environment.swarmstack <<'EOF'
{environment_lines}
EOF
mv /etc/environment.swarmstack /etc/environment
"""


def nocloud_files(
    user_data: bytes, instance_id: str, hostname: str, endpoints: EndpointVariables
) -> dict[str, bytes]:
    """File name -> content for the seed directory."""
    return {
        "user-data": user_data,
        "meta-data": meta_data(instance_id, hostname).encode(),
        "vendor-data": vendor_data(endpoints).encode(),
    }


def write_seed(root: Path, files: dict[str, bytes]) -> Path:
    """Write the seed into a machine's root file system (before it boots)."""
    directory = root / SEED_DIR
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = directory / name
        path.write_bytes(content)
        path.chmod(0o600)  # user data is the instance's business only
    return directory
