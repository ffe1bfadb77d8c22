"""`swarmstack local`: a real multi-node swarm on this Linux machine (one command per module)."""

from __future__ import annotations

import click

from .local_down import down
from .local_ssh import ssh
from .local_status import status
from .local_up import up


@click.group("local")
def local_group() -> None:
    """Real Debian machines on this box (systemd-nspawn) forming a real swarm; needs root.

    \b
    Each machine is a Debian 12 system with systemd, sshd and dockerd, its own network
    namespace and an address in 198.18.0.0/24 (docker inside stays in 198.19.0.0/16).
    The base image is built once (debootstrap, a minute or two) and cached in
    /var/cache/swarmstack; cluster state lives in /var/lib/swarmstack/local/NAME.
    """


for _command in (up, status, down, ssh):
    local_group.add_command(_command)
