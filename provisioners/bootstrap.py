"""Converge: bring a set of hosts to the swarm the inventory and the spec describe.

The public entry point for `swarmstack bootstrap`, `swarmstack local up`, `aws launch-stack`
and `azure deploy`::

    result = converge(spec, inventory, progress=LineProgress(console))
    result.changed, result.nodes, result.to_dict()

Order of work (each phase as parallel as it can be):
1. connect to every host (verified host keys, bounded retries) and read facts, in parallel;
2. preparation: host tuning where its digest differs, a stopped docker daemon started;
3. plan (pure: facts in, steps out) - errors such as a foreign swarm stop here, before any
   swarm change;
4. run the plan's step graph, each step as soon as the steps it depends on are done;
5. poll `docker node ls` on the anchor manager until every node is Ready.

If any present host cannot be reached, nothing is changed on any host. If a step fails, the
steps already done stay done (each is a reconcile step), the error names the failed step, and a
re-run continues from what is there.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import shlex
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import HostUnreachable, RemoteCommandFailed, SshError, SwarmError
from ..spec import ClusterSpec
from .facts import FACTS_COMMAND, HostFacts, SwarmNode, parse_facts, parse_node_lines
from .inventory import Host, Inventory
from .progress import NullProgress, Progress
from .ssh import CommandRecord, Connection, Connector
from .swarm import Plan, PrepStep, Step, plan_preparation, plan_swarm
from .tuning import TuningScript, apply_tuning, digest, tuning_script_for

log = logging.getLogger(__name__)

DEFAULT_MAX_PARALLEL = 32
READY_TIMEOUT = 120.0
DRAIN_TIMEOUT = 60.0
ABSENT_CONNECT_WINDOW = 10.0
T = TypeVar("T")


@dataclass(frozen=True)
class NodeStatus:
    address: str
    hostname: str
    role: str
    state: str
    availability: str


@dataclass
class BootstrapResult:
    nodes: tuple[NodeStatus, ...]
    changed: bool
    plan: Plan
    commands: tuple[CommandRecord, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    prepare: tuple[PrepStep, ...] = ()  # host tuning, docker started
    dry_run: bool = False  # nothing was changed: `plan` and `prepare` say what would be

    @property
    def mutating_commands(self) -> tuple[CommandRecord, ...]:
        return tuple(c for c in self.commands if c.mutating)

    def to_dict(self) -> dict[str, Any]:
        if self.dry_run:
            return {
                "changed": self.changed,
                "prepare": [{"action": p.action, "host": p.host} for p in self.prepare],
                "steps": [describe_step(s) for s in self.plan.steps],
            }
        return {
            "nodes": [
                {
                    "address": n.address,
                    "hostname": n.hostname,
                    "role": n.role,
                    "state": n.state,
                    "availability": n.availability,
                }
                for n in self.nodes
            ],
            "changed": self.changed,
        }


def converge(
    spec: ClusterSpec,
    inventory: Inventory,
    *,
    progress: Progress | None = None,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    connect_window: float | None = None,
    apply_host_tuning: bool = True,
    local_machine: bool = False,
    ready_timeout: float = READY_TIMEOUT,
    dry_run: bool = False,
) -> BootstrapResult:
    """Form or converge the swarm; returns the final node table and whether anything changed.

    ``dry_run`` connects and reads facts only, and returns the steps it would run.

    Raises SshError subclasses (unreachable host, host key mismatch/unknown), SwarmError
    subclasses (foreign swarm, quorum) or RemoteCommandFailed; messages never hold secrets.
    """
    run = _Run(spec, inventory, progress or NullProgress(), max_parallel, connect_window)
    try:
        return run.converge(apply_host_tuning, local_machine, ready_timeout, dry_run)
    finally:
        run.close()


class _Run:
    def __init__(
        self,
        spec: ClusterSpec,
        inventory: Inventory,
        progress: Progress,
        max_parallel: int,
        connect_window: float | None,
    ) -> None:
        self.spec = spec
        self.inventory = inventory
        self.progress = progress
        self.pool = cf.ThreadPoolExecutor(max(2, max_parallel), thread_name_prefix="swarmstack")
        self.connector = Connector(inventory.ssh, connect_window=connect_window)
        self.connections: dict[str, Connection] = {}
        self.timings: dict[str, float] = {}
        self._tokens: dict[str, str] = {}
        self.node_ids: dict[str, str] = {}  # host address -> node id, for hosts joined now
        self._token_lock = threading.Lock()

    # --- helpers ------------------------------------------------------------------------

    def close(self) -> None:
        # Queued work is dropped and the connections closed first, so that after an error or
        # Ctrl-C no step waits on a command that no longer matters.
        self.pool.shutdown(wait=False, cancel_futures=True)
        for connection in list(self.connections.values()):
            connection.close()
        self.connector.close()
        self.pool.shutdown(wait=True)
        self.progress.stop()

    def fan_out(self, items: list[str], work: Callable[[str], T]) -> dict[str, T | BaseException]:
        """Run ``work`` for every item on the bounded pool; collect results or errors."""
        futures = {self.pool.submit(work, item): item for item in items}
        results: dict[str, T | BaseException] = {}
        for future in cf.as_completed(futures):
            item = futures[future]
            try:
                results[item] = future.result()
            except Exception as exc:
                results[item] = exc
        return results

    def timed(self, name: str, started: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + time.monotonic() - started

    # --- phases ---------------------------------------------------------------------------

    def converge(
        self, apply_host_tuning: bool, local_machine: bool, ready_timeout: float, dry_run: bool
    ) -> BootstrapResult:
        self.progress.start([h.address for h in self.inventory.hosts])
        started = time.monotonic()
        facts = self.gather_facts()
        self.timed("facts", started)

        started = time.monotonic()
        tuning = self.tuning_scripts(local_machine) if apply_host_tuning else {}
        digests = {address: digest(script) for address, script in tuning.items()}
        prep = plan_preparation(self.inventory, facts, digests)
        if prep and not dry_run:
            facts.update(self.prepare(prep, tuning))
        self.timed("prepare", started)

        if dry_run:
            return self.preview(prep, facts)
        plan = plan_swarm(self.spec, self.inventory, facts)
        for warning in plan.warnings:
            log.warning("%s", warning)
        started = time.monotonic()
        if plan.steps:
            self.execute(plan)
        self.timed("swarm", started)

        started = time.monotonic()
        nodes = self.wait_ready(plan, ready_timeout)
        self.timed("ready", started)
        for host in self.inventory.hosts:
            self.progress.phase(host.address, "done" if plan.changed or prep else "no changes")
        commands = tuple(c for conn in self.connections.values() for c in conn.history)
        return BootstrapResult(
            nodes=nodes,
            changed=bool(plan.changed or prep),
            plan=plan,
            commands=commands,
            timings=dict(self.timings),
            warnings=plan.warnings,
            prepare=prep,
        )

    def preview(self, prep: tuple[PrepStep, ...], facts: dict[str, HostFacts]) -> BootstrapResult:
        """Dry run: what would be done, from the facts; nothing is changed."""
        warnings: tuple[str, ...] = ()
        try:
            plan = plan_swarm(self.spec, self.inventory, facts)
            warnings = plan.warnings
        except SwarmError:
            if not prep:
                raise
            # Hosts whose docker is stopped have no swarm facts until it is started.
            plan = Plan((), "", "", ())
            warnings = ("the swarm steps are planned once the preparation steps are done",)
        for host in self.inventory.hosts:
            self.progress.phase(host.address, "planned")
        return BootstrapResult(
            nodes=(),
            changed=bool(plan.changed or prep),
            plan=plan,
            commands=tuple(c for conn in self.connections.values() for c in conn.history),
            timings=dict(self.timings),
            warnings=warnings,
            prepare=prep,
            dry_run=True,
        )

    def gather_facts(self) -> dict[str, HostFacts]:
        """Connect to every host and read its facts, all in parallel; one round trip each."""

        def connect_and_read(address: str) -> HostFacts:
            host = self.inventory.host(address)
            self.progress.phase(address, "connecting")
            # A host being removed may be gone for good: do not wait long for it to boot.
            window = None
            if host.state == "absent":
                window = min(ABSENT_CONNECT_WINDOW, self.connector.connect_window)
            connection = self.connector.connect(
                address,
                host.port,
                on_retry=lambda m: self.progress.phase(address, m),
                window=window,
            )
            self.connections[address] = connection
            self.progress.phase(address, "reading facts")
            return self.read_facts(address)

        results = self.fan_out([h.address for h in self.inventory.hosts], connect_and_read)
        facts: dict[str, HostFacts] = {}
        problems: list[SshError] = []
        for host in self.inventory.hosts:
            outcome = results[host.address]
            if isinstance(outcome, HostFacts):
                facts[host.address] = outcome
            elif isinstance(outcome, HostUnreachable) and host.state == "absent":
                log.info("%s: unreachable; it is removed from the swarm without leaving", host)
                self.progress.phase(host.address, "unreachable (absent)")
            elif isinstance(outcome, SshError):
                problems.append(outcome)
                self.progress.phase(host.address, "failed")
            else:
                raise outcome
        if problems:
            lines = [line for problem in problems for line in problem.problems]
            if len(problems) > 1 or lines:
                lines.append("nothing was changed on any host")
            raise type(problems[0])(*lines, hint=problems[0].hint)
        return facts

    def read_facts(self, address: str) -> HostFacts:
        result = self.connections[address].run(FACTS_COMMAND)
        return parse_facts(address, result.stdout)

    def tuning_scripts(self, local_machine: bool) -> dict[str, TuningScript]:
        return {
            host.address: tuning_script_for(self.spec, host.role, local_machine=local_machine)
            for host in self.inventory.present
        }

    def prepare(
        self, steps: tuple[PrepStep, ...], tuning: Mapping[str, TuningScript]
    ) -> dict[str, HostFacts]:
        """Tune hosts and start stopped docker daemons, then re-read those hosts' facts."""
        by_host: dict[str, list[PrepStep]] = {}
        for step in steps:
            by_host.setdefault(step.host, []).append(step)

        def prepare_host(address: str) -> HostFacts:
            connection = self.connections[address]
            for step in by_host[address]:
                if step.action == "tune":
                    self.progress.phase(address, "tuning the host")
                    apply_tuning(connection, tuning[address])
                elif step.action == "start-docker":
                    self.progress.phase(address, "starting docker")
                    connection.run("systemctl start docker", mutating=True)
            return self.read_facts(address)

        results = self.fan_out(list(by_host), prepare_host)
        fresh: dict[str, HostFacts] = {}
        for address, outcome in results.items():
            if isinstance(outcome, BaseException):
                raise outcome
            fresh[address] = outcome
        return fresh

    # --- the step graph ---------------------------------------------------------------

    def execute(self, plan: Plan) -> None:
        """Run each step as soon as everything it depends on is done; stop at the first error."""
        pending = list(plan.steps)
        done: set[str] = set()
        running: dict[cf.Future[None], Step] = {}
        failure: BaseException | None = None
        while (pending and failure is None) or running:
            if failure is None:
                for step in [s for s in pending if all(d in done for d in s.after)]:
                    pending.remove(step)
                    running[self.pool.submit(self.run_step, plan, step)] = step
            if not running:
                break
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                step = running.pop(future)
                try:
                    future.result()
                except Exception as exc:
                    failure = failure or exc
                    self.progress.phase(step.target.split("#")[0], f"failed: {step.action}")
                else:
                    done.add(step.id)
        if failure is not None:
            if isinstance(failure, RemoteCommandFailed | SwarmError):
                raise type(failure)(
                    *failure.problems,
                    f"{len(done)} of {len(plan.steps)} steps were done; re-run to continue "
                    "from there",
                    hint=failure.hint,
                )
            raise failure
        if pending:
            raise SwarmError(f"steps never became ready: {', '.join(s.id for s in pending)}")

    def token(self, anchor: str, role: str) -> str:
        """A join token, fetched once from the anchor; kept only in memory."""
        with self._token_lock:
            if role not in self._tokens:
                result = self.connections[anchor].run(
                    f"docker swarm join-token -q {role}", secret_output=True
                )
                self._tokens[role] = result.stdout.strip()
            return self._tokens[role]

    def run_step(self, plan: Plan, step: Step) -> None:
        args = step.args
        target = step.target.split("#")[0]
        connection = self.connections[step.host]
        run = connection.run
        if step.action == "init":
            self.progress.phase(target, "initialising the swarm")
            # Init, then both join tokens in the same round trip (they stay in memory here).
            out = run(
                _init_command(args) + " && { echo worker $(docker swarm join-token -q worker) & "
                "echo manager $(docker swarm join-token -q manager); wait; }",
                mutating=True,
                secret_output=True,
            ).stdout
            with self._token_lock:
                for line in out.splitlines():
                    role, _, token = line.partition(" ")
                    if token.strip():
                        self._tokens[role] = token.strip()
        elif step.action == "join":
            role = args["role"]
            self.progress.phase(target, f"joining as {role}")
            token = self.token(plan.anchor, role)
            addr = shlex.quote(args["advertise_addr"])
            remote = shlex.quote(args["remote"][0])
            if "then_update" in args:
                then = f" && {_update_command(args['then_update'])}"
            else:  # the new node's id, so that its labels need no wait for its hostname
                then = " && docker info --format '{{.Swarm.NodeID}}'"
            result = run(
                f'read -r token && docker swarm join --token "$token" '
                f"--advertise-addr {addr} --listen-addr {addr}:2377 {remote} >/dev/null{then}",
                stdin=token + "\n",
                mutating=True,
            )
            node_id = result.stdout.strip().splitlines()[-1:] if "then_update" not in args else []
            if node_id:
                with self._token_lock:
                    self.node_ids[target] = node_id[0]
        elif step.action == "leave":
            self.progress.phase(target, "leaving the swarm")
            if args.get("was_manager"):
                # A demoted manager may still see itself as one for a moment.
                run(
                    "for i in $(seq 50); do docker swarm leave 2>/dev/null && exit 0; "
                    "sleep 0.2; done; docker swarm leave",
                    mutating=True,
                )
            else:
                run(f"docker swarm leave{' --force' if args.get('force') else ''}", mutating=True)
        elif step.action in ("promote", "demote"):
            self.progress.phase(target, f"{step.action[:-1]}ing")
            run(f"docker node {step.action} {shlex.quote(args['node'])}", mutating=True)
        elif step.action == "update":
            self.progress.phase(target, "labelling")
            run(_update_command(self.by_id(args)), mutating=True)
        elif step.action == "update-many":
            for update in args["updates"]:
                self.progress.phase(update.get("address", ""), "labelling")
            # In parallel on the anchor, in one round trip; fails if any update fails.
            updates = [self.by_id(u) for u in args["updates"]]
            lines = [f'{_update_command(u)} & pids="$pids $!"' for u in updates]
            run(
                "pids=''; " + "; ".join(lines) + "; rc=0; for p in $pids; do wait $p || rc=1; "
                "done; exit $rc",
                mutating=True,
            )
        elif step.action == "drain":
            self.progress.phase(target, "draining")
            node = shlex.quote(args["node"])
            run(
                f"docker node update --availability drain {node} >/dev/null && "
                f"for i in $(seq {int(DRAIN_TIMEOUT * 5)}); do "
                f'[ -z "$(docker node ps {node} -q --filter desired-state=running)" ] && exit 0; '
                "sleep 0.2; done; echo 'tasks still running after the drain timeout' >&2",
                mutating=True,
            )
        elif step.action == "remove":
            self.progress.phase(target, "removing the node")
            force = " --force" if args.get("force") else ""
            run(f"docker node rm{force} {shlex.quote(args['node'])}", mutating=True)
        elif step.action == "swarm-update":
            parts = ["docker swarm update"]
            if "cert_expiry_hours" in args:
                parts.append(f"--cert-expiry {int(args['cert_expiry_hours'])}h")
            if "autolock" in args:
                parts.append(f"--autolock={'true' if args['autolock'] else 'false'}")
            # With autolock the output holds the unlock key: never shown, never logged.
            run(" ".join(parts) + " >/dev/null", mutating=True, secret_output=True)
        else:
            raise SwarmError(f"unknown step {step.action}")
        if step.action in ("join", "init", "promote", "demote"):
            self.progress.phase(target, f"{step.action} done")

    def by_id(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """An update of a node that joined in this run names it by the id its join printed."""
        with self._token_lock:
            node_id = self.node_ids.get(update.get("address", ""))
        return {**update, "node": node_id} if node_id else dict(update)

    # --- the end: every node Ready ---------------------------------------------------------

    def wait_ready(self, plan: Plan, timeout: float) -> tuple[NodeStatus, ...]:
        """Poll `docker node ls` on the anchor until every node is Ready with its role."""
        anchor = self.connections[plan.anchor]
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            result = anchor.run("docker node ls --format '{{json .}}'", check=False)
            nodes: tuple[SwarmNode, ...] = ()
            if result.exit_status == 0:
                try:
                    nodes = parse_node_lines(result.stdout.splitlines())
                except ValueError:
                    nodes = ()
            missing = self.not_ready(plan, nodes)
            if nodes and not missing:
                return self.node_table(plan, nodes)
            if time.monotonic() + delay > deadline:
                detail = "; ".join(missing) or result.stderr.strip() or "no node list"
                raise SwarmError(f"nodes not Ready after {timeout:.0f}s: {detail}")
            time.sleep(delay)
            delay = min(0.5, delay * 1.5)

    @staticmethod
    def not_ready(plan: Plan, nodes: tuple[SwarmNode, ...]) -> list[str]:
        problems = []
        by_name: dict[str, list[SwarmNode]] = {}
        for node in nodes:
            by_name.setdefault(node.hostname, []).append(node)
        for expected in plan.expected:
            candidates = by_name.get(expected.hostname, [])
            if not any(n.ready and n.role == expected.role for n in candidates):
                state = ", ".join(f"{n.role} {n.state}" for n in candidates) or "not in the swarm"
                problems.append(f"{expected.hostname} ({expected.address}): {state}")
        removed = set(plan.removed)
        problems.extend(f"{n.hostname}: still listed" for n in nodes if n.id in removed)
        return problems

    def node_table(self, plan: Plan, nodes: tuple[SwarmNode, ...]) -> tuple[NodeStatus, ...]:
        address_of = {e.hostname: e.address for e in plan.expected}
        rows = []
        for node in nodes:
            rows.append(
                NodeStatus(
                    address=address_of.get(node.hostname, ""),
                    hostname=node.hostname,
                    role=node.role,
                    state=node.state,
                    availability=node.availability,
                )
            )
        order = {e.address: i for i, e in enumerate(plan.expected)}
        return tuple(sorted(rows, key=lambda r: (order.get(r.address, len(order)), r.hostname)))


def describe_step(step: Step) -> dict[str, Any]:
    """A step for people and -o json (never holds a secret: tokens are not in steps)."""
    details = {k: v for k, v in step.args.items() if k not in ("then_update",)}
    return {
        "action": step.action,
        "target": step.target.split("#")[0],
        "runs_on": step.host,
        "details": details,
    }


def _init_command(args: Mapping[str, Any]) -> str:
    addr = shlex.quote(str(args["advertise_addr"]))
    parts = [
        "docker swarm init",
        f"--advertise-addr {addr}",
        f"--listen-addr {addr}:2377",
        *(f"--default-addr-pool {shlex.quote(p)}" for p in args["default_addr_pool"]),
        f"--default-addr-pool-mask-length {int(args['default_addr_pool_mask_length'])}",
        f"--data-path-port {int(args['data_path_port'])}",
        f"--cert-expiry {int(args['cert_expiry_hours'])}h",
    ]
    if args.get("autolock"):
        parts.append("--autolock")
    # The output holds the worker token (and the unlock key with autolock): discard it.
    return " ".join(parts) + " >/dev/null"


def _update_command(args: Mapping[str, Any]) -> str:
    parts = ["docker node update"]
    for key, value in sorted(args.get("labels_add", {}).items()):
        parts.append(f"--label-add {shlex.quote(f'{key}={value}')}")
    for key in args.get("labels_rm", []):
        parts.append(f"--label-rm {shlex.quote(key)}")
    if args.get("availability"):
        parts.append(f"--availability {shlex.quote(args['availability'])}")
    parts.append(shlex.quote(args["node"]))
    # A node that just joined has no hostname in the swarm until its agent reports in (a
    # fraction of a second): retry "No such node" briefly, in the same round trip.
    return (
        "{ n=0; until out=$(" + " ".join(parts) + " 2>&1); do n=$((n + 1)); "
        'case "$out" in *"No such node"*) [ $n -lt 50 ] && sleep 0.2 && continue;; esac; '
        "printf '%s\\n' \"$out\" >&2; exit 1; done; }"
    )


def host_label(host: Host) -> str:
    return host.address
