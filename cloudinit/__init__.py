"""Host tuning for swarm hosts: cloud-init user data (jinja2) and the same tuning over SSH.

The public API other parts of swarmstack call:

- ``render_user_data(spec, role, cloud, *, host_keys=None)``: the #cloud-config text.
- ``user_data_base64(spec, role, cloud, *, host_keys=None)``: what EC2 and Azure take.
- ``ssh_tuning(spec, role, *, local_machine=False)``: the bash script for SSH hosts and the
  digest it records in contract.TUNING_MARKER (``tuning_script`` is its text alone).
- ``generate_host_keys()`` and ``HostKeys.known_hosts_lines(hosts)``: strict host key checking
  from the first connection.
"""

from .hostkeys import HostKeys, generate_host_keys
from .render import TuningScript, render_user_data, ssh_tuning, tuning_script
from .tuning import HostTuning, host_tuning
from .userdata import USER_DATA_LIMITS, encode_user_data, user_data_base64

__all__ = [
    "USER_DATA_LIMITS",
    "HostKeys",
    "HostTuning",
    "TuningScript",
    "encode_user_data",
    "generate_host_keys",
    "host_tuning",
    "render_user_data",
    "ssh_tuning",
    "tuning_script",
    "user_data_base64",
]
