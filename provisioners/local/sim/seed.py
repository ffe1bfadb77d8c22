"""cloud-init's NoCloud seed for a simulated instance: what EC2 would hand cloud-init, plus the
two endpoint variables that make the simulation reachable.

Written into the machine's root before it boots, at var/lib/cloud/seed/nocloud/:
- user-data: the launch template's user data exactly as EC2 hands it (base64-decoded, still
  gzip-compressed when it was; cloud-init recognises gzip by its magic bytes);
- meta-data: instance-id and local-hostname;
- vendor-data: a boothook that sets the cloud's endpoint variables (AWS_ENDPOINT_URL and
  AWS_EC2_METADATA_SERVICE_ENDPOINT, or Azure's) for everything on the machine. These are the
  only differences from the cloud but two, which this machine needs. The user data's
  daemon.json takes its host-local pool from 172.16.0.0/12 (right on a cloud host), but the
  network rule keeps docker networks here in the benchmark range; and it raises containers'
  open-file limit to 524288, which a VM grants but a machine on this host cannot (its limits
  are the real host's; local machines' tuning leaves them alone for that reason). A
  docker.service drop-in runs a script before every dockerd start that puts the local
  machines' pool in daemon.json and caps the limit at what the machine may grant.

Why a boothook: vendor cloud-config would be merged under the user data's, and the user data's
own `write_files`/`bootcmd` would replace it. A boothook runs early in every boot (cloud-init's
network stage), before cloud-final runs the user data's commands; `systemctl set-environment`
gives the variables to every unit started after it (cloud-final, docker, the node agent), the
systemd drop-in keeps them for later boots, /etc/environment and profile.d give them to logins.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ....cloudinit.tuning import LOCAL_MACHINE_POOL_CANDIDATES, LOCAL_POOL_SUBNET_PREFIX

SEED_DIR = "var/lib/cloud/seed/nocloud"
ENDPOINT_URL = "AWS_ENDPOINT_URL"
METADATA_ENDPOINT = "AWS_EC2_METADATA_SERVICE_ENDPOINT"
SYSTEMD_DROPIN = "/etc/systemd/system.conf.d/50-swarmstack-sim.conf"
PROFILE_SCRIPT = "/etc/profile.d/swarmstack-sim.sh"
DOCKER_DROPIN = "/etc/systemd/system/docker.service.d/50-swarmstack-sim-daemon-json.conf"
DAEMON_SCRIPT = "/usr/local/sbin/swarmstack-sim-daemon-json"
# Never overlaps the swarm's overlay pools, which the simulation keeps in 198.19.0.0/17.
DOCKER_POOL = LOCAL_MACHINE_POOL_CANDIDATES[0]


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
{docker_daemon_correction()}"""


def docker_daemon_correction() -> str:
    """Boothook lines: a script dockerd runs before every start that fits the user data's
    daemon.json to this machine (see the module docstring)."""
    pools = json.dumps([{"base": str(DOCKER_POOL), "size": LOCAL_POOL_SUBNET_PREFIX}])
    return f"""cat >{DAEMON_SCRIPT} <<'EOF'
#!/usr/bin/python3
# swarmstack simulation: docker networks on this machine stay in the benchmark range, and
# containers' open-file limits stay within what this machine may grant (the real host's).
import json, os, resource, sys
path = sys.argv[1] if len(sys.argv) > 1 else "/etc/docker/daemon.json"
config = {{}}
if os.path.exists(path):
    with open(path, encoding="utf-8") as file:
        config = json.load(file)
wanted = dict(config, **{{"default-address-pools": json.loads('{pools}')}})
nofile = wanted.get("default-ulimits", {{}}).get("nofile")
allowed = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
if nofile and allowed != resource.RLIM_INFINITY:
    nofile["Hard"] = min(nofile["Hard"], allowed)
    nofile["Soft"] = min(nofile["Soft"], nofile["Hard"])
if wanted != config:
    with open(path + ".sim", "w", encoding="utf-8") as file:
        json.dump(wanted, file, indent=2)
    os.replace(path + ".sim", path)
EOF
chmod 0755 {DAEMON_SCRIPT}
mkdir -p {Path(DOCKER_DROPIN).parent}
cat >{DOCKER_DROPIN} <<'EOF'
[Service]
ExecStartPre={DAEMON_SCRIPT}
EOF
systemctl daemon-reload
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
