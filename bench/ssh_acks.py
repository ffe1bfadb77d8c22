"""A/B of the SSH connection's TCP socket: swarmstack's (TCP_NODELAY, TCP_QUICKACK before
every read) against paramiko's own (Nagle on, delayed ACKs), on one local machine.

Each batch connects N times in a row, each time with the host key checked, runs the facts
command and closes; the two sockets alternate batch by batch (their order reversed every other
round). Prints per connection the controller's CPU and the wall time, median over the rounds,
and keeps each batch as a JSON line in bench/results/ssh-acks-<UTC>.jsonl. Needs root.

    sudo .venv/bin/python bench/ssh_acks.py --rounds 6 --connections 20
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable

from bootstrap import RESULTS

from swarmstack.provisioners import ssh
from swarmstack.provisioners.facts import FACTS_COMMAND
from swarmstack.provisioners.inventory import inventory_from_data
from swarmstack.provisioners.local import LocalCluster

Opener = Callable[[str, int, float], socket.socket]


def paramiko_socket(address: str, port: int, timeout: float) -> socket.socket:
    """The TCP connection as paramiko opens it itself."""
    return socket.create_connection((address, port), timeout)


SOCKETS: dict[str, Opener] = {"swarmstack": ssh._open_socket, "paramiko": paramiko_socket}


def batch(connector: ssh.Connector, address: str, opener: Opener, count: int) -> dict[str, float]:
    setattr(ssh, "_open_socket", opener)  # noqa: B010 - the name the connector opens through
    cpu, wall = time.process_time(), time.monotonic()
    for _ in range(count):
        connection = connector.connect(address)
        try:
            connection.run(FACTS_COMMAND, check=False)
        finally:
            connection.close()
    return {
        "cpu_ms": (time.process_time() - cpu) / count * 1000,
        "wall_ms": (time.monotonic() - wall) / count * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=20, help="per batch")
    parser.add_argument("--name", default="acks", help="local cluster name")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    results = RESULTS / f"ssh-acks-{stamp}.jsonl"
    cluster = LocalCluster.up(1, 0, name=args.name)
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in SOCKETS}
    try:
        inventory = inventory_from_data(cluster.inventory(), base=cluster.dir)
        address = inventory.hosts[0].address
        connector = ssh.Connector(inventory.ssh)
        batch(connector, address, SOCKETS["swarmstack"], 3)  # warm-up: caches, first login
        for index in range(1, args.rounds + 1):
            for name in list(SOCKETS) if index % 2 else list(SOCKETS)[::-1]:
                row = batch(connector, address, SOCKETS[name], args.connections)
                rows[name].append(row)
                record = {"socket": name, "round": index, "connections": args.connections,
                          "load": os.getloadavg()[0], "cores": os.cpu_count(), **row}  # fmt: skip
                with results.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
                print(f"{name} {index}: {row['cpu_ms']:.2f} ms CPU, {row['wall_ms']:.1f} ms wall")
        connector.close()
    finally:
        cluster.down()
    for name, values in rows.items():
        cpu = statistics.median(r["cpu_ms"] for r in values)
        wall = statistics.median(r["wall_ms"] for r in values)
        print(f"{name}: per connection + facts, median {cpu:.2f} ms CPU, {wall:.1f} ms wall")
    print(f"raw rounds: {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
