"""Benchmark: swarm formation over SSH on the local machines, against docker's own floor.

For each size (managers+workers) it boots local machines once, then repeatedly:
- resets the swarm (every node leaves), runs converge() and times it from "hosts reachable"
  (SSH not yet connected) to "every node Ready", with its phases (connect, facts, init, manager
  joins, worker joins, labels, wait for Ready) and the controller's CPU time;
- resets again and measures docker's floor the way swarmstack runs formation: the swarm's
  init, then the manager joins one after another while every worker joins at once - the same
  Engine API calls swarmstack sends (provisioners/commands.py; the join token in the request
  body on stdin, never in a command line), each timed on the host itself; the floor is
  init + max(the manager joins in sequence, the slowest worker join); then it writes
  swarmstack's labels for every node at once, right after the floor's last join, timed on the
  host ("labels after the joins": reported beside the floor, not part of it);
- with --ansible TOOLS (a virtualenv with ansible-core), resets again and times an Ansible
  playbook forming the same swarm on the same machines (bench/bootstrap_ansible.py says what
  it runs: `raw` tasks, the machines have no python3 for docker_swarm).

Every round is appended as one JSON line to bench/results/bootstrap-<UTC time>.jsonl with the
machine's core count and load average, and swarmstack's command timeline (each command's start,
duration, host and kind - facts, init, join, label, read nodes - never its text). Host tuning
is excluded (it is first-boot work, not swarm formation). A round that fails is recorded and
counted, and the bench goes on. Needs root.

    sudo .venv/bin/python bench/bootstrap.py                 # 3+2, 3+9, 3+17, 3 rounds each
    sudo .venv/bin/python bench/bootstrap.py --sizes 3+2 --rounds 5 --keep
    sudo .venv/bin/python bench/bootstrap.py --sizes 3+17 --rounds 20 --no-floor  # reliability
    sudo .venv/bin/python bench/bootstrap.py --sizes 3+9 --rounds 5 --ansible /tmp/fanout-tools
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bootstrap_ansible import run_playbook

from swarmstack.contract import SWARM_PORT
from swarmstack.errors import RemoteCommandFailed, SshError
from swarmstack.provisioners.bootstrap import converge, merged_updates
from swarmstack.provisioners.commands import JOIN_TOKENS, HostCommand, join_swarm, step_commands
from swarmstack.provisioners.inventory import Host, Inventory, inventory_from_data
from swarmstack.provisioners.local import (
    SWARM_DEFAULT_ADDR_POOL,
    SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH,
    LocalCluster,
)
from swarmstack.provisioners.ssh import Connection, Connector
from swarmstack.provisioners.swarm import Step
from swarmstack.spec import ClusterSpec

SPEC = ClusterSpec.model_validate(
    {
        "default_addr_pool": [SWARM_DEFAULT_ADDR_POOL],
        "default_addr_pool_mask_length": SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH,
    }
)
# Run a command (in a subshell: its own `exit` ends only it) and print, after its output, how
# long it took on the host in microseconds.
TIMED = (
    "s=$(date +%s%N); ( {command} ); rc=$?; e=$(date +%s%N); "
    "echo; echo $(( (e - s) / 1000 )); exit $rc"
)


# Leave, and make sure of it (a leave can fail while the daemon is still busy).
LEAVE = (
    "for i in 1 2 3 4 5 6 7 8 9 10; do timeout 10 docker swarm leave --force >/dev/null 2>&1 "
    "|| systemctl restart docker; "
    "[ \"$(docker info --format '{{.Swarm.LocalNodeState}}')\" = inactive ] && exit 0; "
    "sleep 0.5; done; exit 1"
)


RESULTS = Path(__file__).parent / "results"
# The phase breakdown printed per round, in the order they happen (the joins overlap).
PHASES = ("connect", "facts", "init", "manager joins", "worker joins", "labels", "ready")


@dataclass
class Round:
    size: str
    index: int  # 0 for the warm-up round
    load: tuple[float, float, float]  # os.getloadavg() when the round started
    cores: int
    wall: float = 0.0
    cpu: float = 0.0  # the controller's CPU time (this process), converge only
    phases: dict[str, float] = field(default_factory=dict)
    floor: float = 0.0  # 0.0 with --no-floor
    floor_parts: dict[str, float] = field(default_factory=dict)
    ansible: float = 0.0  # the Ansible playbook's wall time; 0.0 without --ansible
    ansible_error: str = ""  # the playbook failed (the round's swarmstack figures stand)
    stale_entries: int = 0  # node entries left not Ready (a worker that joined again)
    error: str = ""  # the round failed: the error's first line
    # swarmstack's commands: [start (s after converge began), seconds, host, what]
    timeline: list[tuple[float, float, str, str]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.wall / self.floor if self.floor else 0.0


def parse_size(text: str) -> tuple[int, int]:
    managers, _, workers = text.partition("+")
    return int(managers), int(workers)


class Hosts:
    """The bench's own SSH connections (for resets and the floor), one per host; a
    connection that broke is opened again."""

    def __init__(self, inventory: Inventory) -> None:
        self.connector = Connector(inventory.ssh)
        with cf.ThreadPoolExecutor(16) as pool:
            conns = list(pool.map(lambda h: self.connector.connect(h.address), inventory.hosts))
        self.conns = {c.address: c for c in conns}

    def __getitem__(self, address: str) -> Connection:
        return self.conns[address]

    def reconnect(self, address: str) -> Connection:
        self.conns[address].close()
        self.conns[address] = self.connector.connect(address)
        return self.conns[address]

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()
        self.connector.close()


RESET_PARALLEL = 8  # leaves at once: more only queue on a loaded 2-core box (and time out)
RESET_TRIES = 6


def reset(hosts: Hosts) -> None:
    """Every node leaves its swarm (a clean slate for the next round). On a loaded machine an
    SSH channel may not open in time or a connection may break: the host is tried again with
    backoff (1, 2, 4, 8, 8 s) on a fresh connection. This is the bench's, not swarmstack's."""

    def leave(address: str) -> None:
        for attempt in range(RESET_TRIES):
            try:
                conn = hosts[address] if attempt == 0 else hosts.reconnect(address)
                conn.run(LEAVE)
                return
            except (RemoteCommandFailed, SshError):
                if attempt == RESET_TRIES - 1:
                    raise
                time.sleep(min(8, 2**attempt))

    with cf.ThreadPoolExecutor(RESET_PARALLEL) as pool:
        list(pool.map(leave, list(hosts.conns)))


def timed(conn: Connection, command: HostCommand, stdin: str | None = None) -> tuple[float, str]:
    """Run ``command`` timed on the host: (seconds, its output). The output may hold a secret
    (the init's join tokens): it is never logged."""
    out = conn.run(TIMED.format(command=command.run), stdin=stdin, secret_output=True).stdout
    *output, elapsed = out.strip().splitlines()
    return int(elapsed) / 1e6, "\n".join(output)


def docker_floor(
    inventory: Inventory, conns: Hosts, updates: list[Step]
) -> tuple[float, dict[str, float]]:
    """Docker's own work in swarmstack's order, through the same Engine API calls swarmstack
    sends (provisioners/commands.py: the init with both join tokens read back, then the joins
    with the token in the request body on stdin): init; then the managers one at a time while
    all workers join at once. Each command is timed on its host (no SSH in the figure)."""
    first = inventory.managers[0]
    (init_command,) = step_commands(init_step(first.advertise_address))
    init, output = timed(conns[first.address], init_command, stdin=init_command.stdin)
    tokens = dict(line.split(" ", 1) for line in output.splitlines() if " " in line)
    remote = f"{first.advertise_address}:{SWARM_PORT}"

    def join(host: Host) -> float:
        command = join_swarm(host.role, host.advertise_address, remote)
        stdin = command.stdin.replace(JOIN_TOKENS[host.role], tokens[host.role])
        return timed(conns[host.address], command, stdin=stdin)[0]

    with cf.ThreadPoolExecutor(max(1, len(inventory.workers))) as pool:
        worker_futures = [pool.submit(join, w) for w in inventory.workers]
        manager_joins = [join(m) for m in inventory.managers[1:]]
        worker_joins = [f.result() for f in worker_futures]
    serial, slowest = sum(manager_joins), max(worker_joins, default=0.0)
    parts = {"init": init, "manager joins": serial, "slowest worker join": slowest}
    # Not in the floor: swarmstack's labels, written at once right after the last join, to
    # show what a raft write costs in the seconds after the joins (docker's own work after a
    # join - the nodes' ingress network attachments, for one - goes on past the join's return).
    parts[LABELS_AFTER] = label_all(inventory, conns, updates)
    return init + max(serial, slowest), parts


LABELS_AFTER = "labels after the joins"


def label_all(inventory: Inventory, conns: Hosts, updates: list[Step]) -> float:
    """``updates`` (the update steps of swarmstack's plan: labels, managers' drain) all at
    once in one command on the first manager, merged as the executor merges them (one
    update-many), timed on the host."""
    first = inventory.managers[0].address
    (command,) = step_commands(merged_updates(first, updates))
    return timed(conns[first], command)[0]


def init_step(address: str) -> Step:
    """The init step swarmstack's planner writes for a new swarm with the bench's spec."""
    args = {
        "advertise_addr": address,
        "default_addr_pool": list(SPEC.default_addr_pool),
        "default_addr_pool_mask_length": SPEC.default_addr_pool_mask_length,
        "data_path_port": SPEC.data_path_port,
        "autolock": SPEC.autolock,
        "cert_expiry_hours": SPEC.cert_expiry_hours,
    }
    return Step(f"init:{address}", "init", address, address, args)


@dataclass(frozen=True)
class Measure:
    floor: bool
    ansible: Path | None  # the virtualenv with ansible-playbook
    folder: Path  # the cluster's folder (the Ansible run's files go below it)
    hostnames: dict[str, str]


def one_round(inventory: Inventory, conns: Hosts, record: Round, measure: Measure) -> Round:
    reset(conns)
    cpu0, wall0 = time.process_time(), time.monotonic()
    result = converge(SPEC, inventory, apply_host_tuning=False, local_machine=True)
    record.wall, record.cpu = time.monotonic() - wall0, time.process_time() - cpu0
    record.phases = dict(result.timings)
    record.timeline = [
        (round(c.started - wall0, 3), round(c.seconds, 3), c.address, command_kind(c.command))
        for c in sorted(result.commands, key=lambda c: c.started)
    ]
    ready = {n.address for n in result.nodes if n.state == "ready" and n.address}
    missing = [h.address for h in inventory.hosts if h.address not in ready]
    if missing:
        raise RuntimeError(f"not Ready: {', '.join(missing)}")
    # A worker that left and joined again leaves its old entry (down) until the next run.
    record.stale_entries = sum(1 for n in result.nodes if n.state != "ready")
    if measure.floor:
        reset(conns)
        # The labels swarmstack's plan wrote, by hostname (the floor's nodes have new ids).
        updates = [s for s in result.plan.steps if s.action == "update"]
        record.floor, record.floor_parts = docker_floor(inventory, conns, updates)
    if measure.ansible is not None:
        reset(conns)
        try:
            record.ansible = run_playbook(
                measure.ansible, measure.folder / "ansible", inventory, measure.hostnames
            )
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            record.ansible_error = str(exc).splitlines()[0][:300] if str(exc) else repr(exc)
    return record


def command_kind(text: str) -> str:
    """What a command of the formation is, for the round's timeline (never its text)."""
    for marker, kind in (
        ("@@hostname", "facts"),
        ("/swarm/init", "init"),
        ("/swarm/join", "join"),
        ("swarmstack_node_update", "label"),
        ("/nodes", "read nodes"),
    ):
        if marker in text:
            return kind
    return "other"


def describe(record: Round) -> str:
    if record.error:
        return f"FAILED: {record.error}"
    phases = ", ".join(f"{name} {record.phases.get(name, 0.0):.2f}" for name in PHASES)
    text = f"swarmstack {record.wall:.2f}s (cpu {record.cpu:.2f}s) [{phases}]"
    if record.floor:
        parts = ", ".join(f"{k} {v:.2f}" for k, v in record.floor_parts.items())
        text += f"; floor {record.floor:.2f}s [{parts}]; ratio {record.ratio:.2f}x"
    if record.ansible:
        text += f"; ansible {record.ansible:.2f}s"
    elif record.ansible_error:
        text += f"; ansible FAILED: {record.ansible_error}"
    return text + f"; load {record.load[0]:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="3+2,3+9,3+17", help="managers+workers, comma separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="rounds run first, not counted")
    parser.add_argument("--no-floor", action="store_true", help="time swarmstack only")
    parser.add_argument("--name", default="bench", help="local cluster name")
    parser.add_argument("--keep", action="store_true", help="leave the machines running")
    parser.add_argument(
        "--ansible", type=Path, metavar="VENV",
        help="also time an Ansible playbook each round (a virtualenv with ansible-core)",
    )  # fmt: skip
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    results = RESULTS / f"bootstrap-{stamp}.jsonl"
    rows = []
    cluster = None
    try:
        for size in args.sizes.split(","):
            managers, workers = parse_size(size)
            print(f"== {managers}+{workers}: booting machines", file=sys.stderr, flush=True)
            cluster = LocalCluster.up(managers, workers, name=args.name)
            inventory = inventory_from_data(cluster.inventory(), base=cluster.dir)
            conns = Hosts(inventory)
            measure = Measure(
                floor=not args.no_floor,
                ansible=args.ansible,
                folder=cluster.dir,
                hostnames={h["address"]: h["hostname"] for h in cluster.inventory()["hosts"]},
            )
            rounds = []
            # Freshly booted machines are still starting services: warm-up rounds not counted.
            for index in range(-args.warmup + 1, args.rounds + 1):
                record = Round(size, max(index, 0), os.getloadavg(), os.cpu_count() or 0)
                try:
                    one_round(inventory, conns, record, measure)
                except Exception as exc:  # recorded and counted; the next round goes on
                    record.error = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
                    traceback.print_exc(file=sys.stderr)
                with results.open("a") as handle:
                    handle.write(json.dumps(asdict(record)) + "\n")
                label = f"round {index}" if index > 0 else "warm-up"
                print(f"   {label}: {describe(record)}", file=sys.stderr, flush=True)
                if index > 0:
                    rounds.append(record)
            reset(conns)
            conns.close()
            rows.append((size, rounds))
            if not args.keep:
                cluster.down()
                cluster = None
    finally:
        if cluster is not None and not args.keep:
            cluster.down()
    print_table(rows)
    print(f"raw rounds: {results}")
    return 0 if all(not r.error for _, rounds in rows for r in rounds) else 1


# docker's swarm init returns in ~0.17 s or ~0.67 s, at random: in dockerd's log, the new
# node's agent selects its manager ("manager selected by agent for new session") either a few
# ms after "dispatcher starting" or ~500 ms later. The floor's init and swarmstack's draw alike.
QUICK_INIT = 0.4


def quick_inits(rounds: list[Round]) -> str:
    """How many rounds had a quick init: swarmstack's/the floor's."""
    ours = sum(1 for r in rounds if r.phases.get("init", 1.0) < QUICK_INIT)
    floor = sum(1 for r in rounds if r.floor_parts.get("init", 1.0) < QUICK_INIT)
    return f"{ours}/{floor} of {len(rounds)}"


def print_table(rows: list[tuple[str, list[Round]]]) -> None:
    def med(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    header = (
        "size", "ok", "swarmstack s", "docker floor s", "ratio", "ratio of medians",
        "best ratio", "quick inits", "labels after floor s", "ansible s", "ansible ok", *PHASES,
        "controller CPU s", "load",
    )  # fmt: skip
    lines: list[tuple[str, ...]] = [header]
    for size, all_rounds in rows:
        rounds = [r for r in all_rounds if not r.error]
        measured = [r for r in rounds if r.floor]
        with_ansible = [r for r in all_rounds if r.ansible or r.ansible_error]
        lines.append(
            (
                size,
                f"{len(rounds)}/{len(all_rounds)}",
                f"{med([r.wall for r in rounds]):.2f}",
                f"{med([r.floor for r in measured]):.2f}" if measured else "-",
                f"{med([r.ratio for r in measured]):.2f}x" if measured else "-",
                f"{med([r.wall for r in measured]) / med([r.floor for r in measured]):.2f}x"
                if measured
                else "-",
                f"{min(r.ratio for r in measured):.2f}x" if measured else "-",
                f"{quick_inits(measured)}" if measured else "-",
                f"{med([r.floor_parts.get(LABELS_AFTER, 0.0) for r in measured]):.2f}"
                if measured
                else "-",
                f"{med([r.ansible for r in with_ansible if r.ansible]):.2f}"
                if with_ansible
                else "-",
                f"{sum(1 for r in with_ansible if r.ansible)}/{len(all_rounds)}"
                if with_ansible
                else "-",
                *(f"{med([r.phases.get(p, 0.0) for r in rounds]):.2f}" for p in PHASES),
                f"{med([r.cpu for r in rounds]):.2f}",
                f"{med([r.load[0] for r in all_rounds]):.1f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))
    print(
        f"(medians over the successful rounds on {os.cpu_count()} cores; ratio = median of the "
        "per-round ratios swarmstack / floor; ratio of medians = median swarmstack / median "
        "floor; quick inits = rounds whose init took under "
        f"{QUICK_INIT}s, swarmstack's/the floor's (docker's init takes ~0.17 s or ~0.67 s at "
        "random, in either run of a round); labels after floor = swarmstack's labels written at "
        "once right after the floor's last join, timed on the host (not part of the floor); "
        "floor = init + max(manager joins in sequence, "
        "slowest parallel worker join), each timed on the host; phases are spans and overlap; "
        "load = 1-minute load average at the start of a round)"
    )


if __name__ == "__main__":
    sys.exit(main())
