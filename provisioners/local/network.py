"""The machines' network: one bridge per cluster, a network namespace + veth per machine, and
iptables FORWARD rules that keep the machines' traffic on the bridge.

Machines get no default route: nothing they send can leave 198.18.0.0/15 (the network rule).
Every iptables rule carries a comment naming the cluster, so teardown finds exactly its own.
"""

from __future__ import annotations

from pathlib import Path

from .plan import Machine, bridge_address
from .run import run, succeeds

NETNS_DIR = Path("/run/netns")


def bridge_name(subnet_index: int) -> str:
    return f"ssbr{subnet_index}"


def netns_name(cluster: str, machine: Machine) -> str:
    return f"swarmstack-{cluster}-{machine.name}"


def veth_name(subnet_index: int, machine: Machine) -> str:
    """Host side of a machine's veth pair; at most 15 characters (ssv255-254)."""
    return f"ssv{subnet_index}-{machine.host_number}"


def subnets_in_use() -> set[int]:
    """/24s of 198.18.0.0/16 already on this host's interfaces (other testbeds, other tools)."""
    used = set()
    for line in run(["ip", "-4", "-o", "addr", "show"]).stdout.splitlines():
        words = line.split()
        if "inet" in words:
            address = words[words.index("inet") + 1].split("/")[0]
            octets = address.split(".")
            if octets[:2] == ["198", "18"]:
                used.add(int(octets[2]))
    return used


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def _forward_rules(bridge: str, cluster: str) -> list[list[str]]:
    """Accept bridge-to-bridge; drop anything entering or leaving the bridge from elsewhere."""
    comment = ["-m", "comment", "--comment", f"swarmstack-local:{cluster}"]
    return [
        ["-i", bridge, "-o", bridge, *comment, "-j", "ACCEPT"],
        ["-i", bridge, *comment, "-j", "DROP"],
        ["-o", bridge, *comment, "-j", "DROP"],
    ]


def ensure_bridge(cluster: str, subnet_index: int) -> str:
    bridge = bridge_name(subnet_index)
    if not _link_exists(bridge):
        run(["ip", "link", "add", bridge, "type", "bridge"])
        run(["ip", "addr", "add", f"{bridge_address(subnet_index)}/24", "dev", bridge])
    run(["ip", "link", "set", bridge, "up"])
    # Insert in reverse so the ACCEPT ends up above the DROPs, all above foreign rules.
    for rule in reversed(_forward_rules(bridge, cluster)):
        if not succeeds(["iptables", "-w", "-C", "FORWARD", *rule]):
            run(["iptables", "-w", "-I", "FORWARD", "1", *rule])
    return bridge


def remove_bridge(cluster: str, subnet_index: int) -> None:
    bridge = bridge_name(subnet_index)
    for rule in _forward_rules(bridge, cluster):
        while succeeds(["iptables", "-w", "-C", "FORWARD", *rule]):
            run(["iptables", "-w", "-D", "FORWARD", *rule])
    if _link_exists(bridge):
        run(["ip", "link", "del", bridge])


def ensure_machine_network(cluster: str, subnet_index: int, machine: Machine) -> str:
    """The machine's namespace with eth0 (its address, no default route) and lo; returns the
    namespace path for systemd-nspawn."""
    ns = netns_name(cluster, machine)
    outer = veth_name(subnet_index, machine)
    if not (NETNS_DIR / ns).exists():
        run(["ip", "netns", "add", ns])
    in_ns = ["ip", "-n", ns]
    if not succeeds([*in_ns, "link", "show", "eth0"]):
        if _link_exists(outer):  # half-made by an interrupted run
            run(["ip", "link", "del", outer])
        peer = f"ssp{subnet_index}-{machine.host_number}"
        run(["ip", "link", "add", outer, "type", "veth", "peer", "name", peer])
        run(["ip", "link", "set", peer, "netns", ns])
        run([*in_ns, "link", "set", peer, "name", "eth0"])
        run([*in_ns, "addr", "add", f"{machine.address}/24", "dev", "eth0"])
    run(["ip", "link", "set", outer, "master", bridge_name(subnet_index), "up"])
    run([*in_ns, "link", "set", "lo", "up"])
    run([*in_ns, "link", "set", "eth0", "up"])
    return str(NETNS_DIR / ns)


def remove_machine_network(cluster: str, subnet_index: int, machine: Machine) -> None:
    # Deleting the namespace destroys eth0 and with it the host end of the pair.
    ns = netns_name(cluster, machine)
    if (NETNS_DIR / ns).exists():
        run(["ip", "netns", "del", ns])
    outer = veth_name(subnet_index, machine)
    if _link_exists(outer):
        run(["ip", "link", "del", outer])


def namespaces_of(cluster: str) -> list[str]:
    """Namespaces on this host that belong to the cluster (for teardown checks)."""
    prefix = f"swarmstack-{cluster}-"
    if not NETNS_DIR.exists():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))


def rules_of(cluster: str) -> list[str]:
    """The cluster's iptables rules still installed (for teardown checks)."""
    listing = run(["iptables", "-w", "-S", "FORWARD"]).stdout
    return [line for line in listing.splitlines() if f"swarmstack-local:{cluster}" in line]
