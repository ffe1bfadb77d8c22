"""Converge: bring a set of hosts to the swarm the inventory and the spec describe.

The public entry point for `swarmstack bootstrap`, `swarmstack local up`, `aws launch-stack`
and `azure deploy`::

    result = converge(spec, inventory, progress=LineProgress(console))
    result.changed, result.nodes, result.to_dict()

Order of work (each phase as parallel as it can be):
1. connect to every host (verified host keys, bounded retries) and read facts, in parallel;
   a connection stays open afterwards only for a host the run is likely to work on, and only
   while fewer than --max-parallel are kept (connections.py); others reconnect on demand;
2. preparation: host tuning where its digest differs, a stopped docker daemon started;
3. plan (pure: facts in, steps out) - errors such as a foreign swarm stop here, before any
   swarm change;
4. run the plan's step graph, each step as soon as the steps it depends on are done (label
   updates that queue up on one host meanwhile go as one command: coalesce.py);
5. poll `docker node ls` on the anchor manager until every node is Ready (readiness.py).

What the run returns, and how it names steps and failures, is in outcome.py.

If any present host cannot be reached, nothing is changed on any host. If a step fails, the
steps already done stay done (each is a reconcile step), the error names the failed step, and a
re-run continues from what is there.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from .. import stepgraph
from ..errors import (
    HostUnreachable,
    QuorumLost,
    RemoteCommandFailed,
    SshError,
    SwarmError,
    UsageError,
)
from ..spec import ClusterSpec
from . import commands
from .coalesce import Coalescer
from .connections import HostConnections
from .facts import HostFacts, SwarmNode, parse_facts, parse_node_lines
from .inventory import Host, Inventory
from .outcome import (
    BootstrapResult,
    NodeStatus,
    UnlockResult,
    command_label,
    failure_reason,
    phase_spans,
    step_label,
    step_phase,
)
from .progress import NullProgress, Progress
from .readiness import SWARM_PORTS, node_table, not_ready, poll_ready
from .ssh import CommandResult, Connection, Connector, brief_command
from .swarm import Plan, PrepStep, Step, plan_preparation, plan_swarm
from .tuning import TuningScript, apply_tuning, digest, tuning_script_for
from .unlockkey import check_writable, default_unlock_key_file, save_unlock_key

log = logging.getLogger(__name__)

DEFAULT_MAX_PARALLEL = 32
READY_TIMEOUT = 120.0
LEADER_WAIT = 45.0  # seconds to wait for raft to elect a leader before calling quorum lost
LEADER_POLL = 2.0
ABSENT_CONNECT_WINDOW = 10.0
T = TypeVar("T")
# What the progress display says while a step runs (join and update-many say more).
_STEP_PHASES = {
    "init": "initialising the swarm",
    "leave": "leaving the swarm",
    "promote": "promoting",
    "verify-manager": "waiting for raft",
    "demote": "demoting",
    "update": "labelling",
    "drain": "draining",
    "remove": "removing the node",
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
    unlock_key_file: Path | None = None,
    rotate_unlock_key: bool = False,
) -> BootstrapResult:
    """Form or converge the swarm; returns the final node table and whether anything changed.

    ``dry_run`` connects and reads facts only, and returns the steps it would run. With
    ``autolock`` the unlock key is kept in ``unlock_key_file`` (default: the cluster's
    directory, see unlockkey.py), mode 0600; ``rotate_unlock_key`` replaces it with a new one.

    Raises SshError subclasses (unreachable host, host key mismatch/unknown), SwarmError
    subclasses (foreign swarm, quorum) or RemoteCommandFailed; messages never hold secrets.
    """
    if rotate_unlock_key and not spec.autolock:
        raise UsageError(
            "--rotate-unlock-key: the spec has autolock: false, so the swarm has no unlock key "
            "to rotate (set autolock: true / --autolock)"
        )
    key_file = unlock_key_file or default_unlock_key_file(spec.name, local_machine=local_machine)
    if spec.autolock and not dry_run:
        check_writable(key_file)  # before any change: a key that cannot be kept is lost
    run = _Run(spec, inventory, progress or NullProgress(), max_parallel, connect_window)
    try:
        result = run.converge(apply_host_tuning, local_machine, ready_timeout, dry_run, key_file,
                              rotate_unlock_key)  # fmt: skip
    finally:
        run.close()
    return result


def unlock(
    inventory: Inventory,
    key: str,
    *,
    progress: Progress | None = None,
    connect_window: float | None = None,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
) -> UnlockResult:
    """Unlock every locked manager of the inventory (autolock) with ``key``, sent on stdin."""
    managers = tuple(h for h in inventory.present if h.role == "manager")
    if not managers:
        raise UsageError("the inventory lists no present manager to unlock")
    managers_only = Inventory(ssh=inventory.ssh, hosts=managers)
    spec = ClusterSpec.model_validate({})
    run = _Run(spec, managers_only, progress or NullProgress(), max_parallel, connect_window)
    try:
        return run.unlock(key)
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
        self.max_parallel = max(2, max_parallel)
        self.pool = cf.ThreadPoolExecutor(self.max_parallel, thread_name_prefix="swarmstack")
        self.connector = Connector(inventory.ssh, connect_window=connect_window)
        # Every command goes through self.hosts.use(address); kept between uses: at most
        # max_parallel connections, the first manager's (later the anchor's) always.
        self.hosts = HostConnections(self.open_connection, keep=self.max_parallel)
        self.hosts.pinned = next((h.address for h in inventory.managers), "")
        self._needed: dict[str, bool] = {}  # after its facts: the run will use this host
        self.hosts.wanted = lambda address: self._needed.get(address, True)
        self.timings: dict[str, float] = {}
        self._secrets: dict[str, str] = {}  # join tokens and the unlock key, in memory only
        self.node_ids: dict[str, str] = {}  # host address -> node id, for hosts joined now
        # The node list the last step of a new swarm read (then_nodes), for the wait for Ready.
        self.nodes_seen: tuple[SwarmNode, ...] = ()
        self._token_lock = threading.Lock()
        # Per host that runs label updates: those that queue up while one runs go as one.
        self._label_updates: dict[str, Coalescer[Step]] = {}
        # (phase, started, ended) of every step run, for the run's timings (step_phase).
        self.step_spans: list[tuple[str, float, float]] = []
        self._connected_at = 0.0  # when the last host's SSH connection was up

    # --- helpers ------------------------------------------------------------------------

    def close(self) -> None:
        # Queued work is dropped and the connections closed first, so that after an error or
        # Ctrl-C no step waits on a command that no longer matters.
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.close_connections()
        self.connector.close()
        self.pool.shutdown(wait=True)
        self.progress.stop()

    def close_connections(self) -> None:
        self.hosts.close_all()

    def open_connection(self, address: str) -> Connection:
        """A verified connection to a host of the inventory (its first, or a reconnect)."""
        host = self.inventory.host(address)
        # A host being removed may be gone for good: do not wait long for it to boot.
        window = None
        if host.state == "absent":
            window = min(ABSENT_CONNECT_WINDOW, self.connector.connect_window)
        return self.connector.connect(
            address,
            host.port,
            on_retry=lambda m: self.progress.phase(address, m),
            window=window,
        )

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
        self,
        apply_host_tuning: bool,
        local_machine: bool,
        ready_timeout: float,
        dry_run: bool,
        key_file: Path,
        rotate_unlock_key: bool,
    ) -> BootstrapResult:
        self.progress.start([h.address for h in self.inventory.hosts])
        tuning = self.tuning_scripts(local_machine) if apply_host_tuning else {}
        digests = {address: digest(script) for address, script in tuning.items()}
        if dry_run:  # the plan needs the facts only: each connection closes after them
            self.hosts.retain((), pinned="")
        started = time.monotonic()
        facts = self.gather_facts(lambda host, f: needs_connection(host, f, digests))
        self.timings["connect"] = max(0.0, self._connected_at - started)
        self.timings["facts"] = time.monotonic() - max(started, self._connected_at)

        started = time.monotonic()
        prep = plan_preparation(self.inventory, facts, digests)
        if prep and not dry_run:
            facts.update(self.prepare(prep, tuning))
        self.timed("prepare", started)

        if dry_run:
            return self.preview(prep, facts)
        plan = self.plan_once_raft_settles(facts)
        for warning in plan.warnings:
            log.warning("%s", warning)
        # Now exactly known: the hosts steps run on (others reconnect if a repair needs them).
        self.hosts.retain({step.host for step in plan.steps} | {plan.anchor}, plan.anchor)
        started = time.monotonic()
        if plan.steps:
            self.execute(plan)
            self.timings.update(phase_spans(self.step_spans))
        saved = self.keep_unlock_key(plan, key_file, rotate_unlock_key)
        self.timed("swarm", started)

        started = time.monotonic()
        nodes = self.wait_ready(plan, ready_timeout)
        self.timed("ready", started)
        for host in self.inventory.hosts:
            self.progress.phase(host.address, "done" if plan.changed or prep else "no changes")
        return BootstrapResult(
            nodes=nodes,
            changed=bool(plan.changed or prep),
            plan=plan,
            commands=self.hosts.history(),
            timings=dict(self.timings),
            warnings=plan.warnings,
            prepare=prep,
            unlock_key_file=key_file if self.spec.autolock else None,
            unlock_key_saved=saved,
        )

    def plan_once_raft_settles(self, facts: dict[str, HostFacts]) -> Plan:
        """Plan; while raft has no quorum, re-read the managers for up to LEADER_WAIT.

        Managers that just restarted (a reboot of two of three) elect a leader within
        seconds; a run started in that moment must not tell the user to force a new cluster.
        """
        deadline = time.monotonic() + LEADER_WAIT
        while True:
            try:
                return plan_swarm(self.spec, self.inventory, facts)
            except QuorumLost:
                managers = [a for a, f in facts.items() if f.is_manager]
                if not managers or time.monotonic() > deadline:
                    raise
            for address in managers:
                self.progress.phase(address, "waiting for a raft leader")
            time.sleep(LEADER_POLL)
            results = self.fan_out(managers, self.read_facts)
            for address, outcome in results.items():
                if isinstance(outcome, BaseException):
                    raise outcome
                facts[address] = outcome

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
            commands=self.hosts.history(),
            timings=dict(self.timings),
            warnings=warnings,
            prepare=prep,
            dry_run=True,
        )

    def gather_facts(self, needed: Callable[[Host, HostFacts], bool]) -> dict[str, HostFacts]:
        """Connect to every host and read its facts, all in parallel; one round trip each.

        ``needed(host, facts)``: whether the run is likely to use the host's connection
        again (if not, or if enough are kept already, it is closed after the facts)."""

        def connect_and_read(address: str) -> HostFacts:
            host = self.inventory.host(address)
            self.progress.phase(address, "connecting")
            with self.hosts.use(address):
                self._connected_at = max(self._connected_at, time.monotonic())
                self.progress.phase(address, "reading facts")
                facts = self.read_facts(address)
                self._needed[address] = needed(host, facts)
            return facts

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
        result = self.run_command(address, commands.read_facts(), what="reading facts")
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
            with self.hosts.use(address) as connection:
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
        by_id = {step.id: step for step in plan.steps}

        def show(event: stepgraph.Event) -> None:
            if event.phase == stepgraph.FAILED:
                step = by_id[event.key]
                self.progress.phase(step.target.split("#")[0], f"failed: {step.action}")

        graph = [
            stepgraph.Step(step.id, self.step_runner(plan, step), frozenset(step.after))
            for step in plan.steps
        ]
        try:
            outcome = stepgraph.run_graph(
                graph,
                on_event=show,
                max_parallel=self.max_parallel,
                # Running commands block on their SSH channels: closing them ends the wait.
                on_interrupt=self.close_connections,
                thread_name="swarmstack-step",
            )
        except stepgraph.Interrupted:
            raise KeyboardInterrupt from None
        except ValueError as exc:  # a cycle: a planner bug, caught before any change
            raise SwarmError(f"the plan cannot be run: {exc}") from None
        if outcome.failed:
            failure = next(iter(outcome.failed.values()))
            if isinstance(failure, RemoteCommandFailed | SwarmError):
                # One line: the failed step, its host, the reason, and how far the plan got.
                *first, last = failure.problems
                raise type(failure)(
                    *first,
                    f"{last} ({len(outcome.done)} of {len(plan.steps)} steps were done; "
                    "re-run to continue from there)",
                    hint=failure.hint,
                )
            raise failure

    def keep_unlock_key(self, plan: Plan, path: Path, rotate: bool) -> bool:
        """Save the unlock key this run learnt (a new swarm, autolock turned on) or rotates,
        or the current one when an autolocked swarm has none saved yet. True if written."""
        if not self.spec.autolock:
            return False
        if rotate:
            self.progress.phase(plan.anchor, "rotating the unlock key")
            command = commands.fetch_unlock_key(rotate=True)
        elif "unlock-key" not in self._secrets and not path.exists():
            command = commands.fetch_unlock_key()
        else:
            command = None
        if command is not None:
            result = self.run_command(plan.anchor, command, what="reading the unlock key")
            self.take_output(command, plan.anchor, result.stdout)
        with self._token_lock:
            key = self._secrets.pop("unlock-key", "")
        if not key:
            return False
        save_unlock_key(path, key)
        log.info("unlock key saved in %s", path)
        return True

    def unlock(self, key: str) -> UnlockResult:
        """Unlock the locked managers in parallel; the others are left as they are."""
        self.progress.start([h.address for h in self.inventory.hosts])
        self._secrets["unlock-key"] = key
        facts = self.gather_facts(lambda host, f: f.swarm_state == "locked")
        locked = [a for a, f in facts.items() if f.swarm_state == "locked"]
        for address in facts:
            if address not in locked:
                self.progress.phase(address, "not locked")

        def unlock_one(address: str) -> None:
            self.progress.phase(address, "unlocking")
            command = commands.unlock_manager()
            self.run_command(
                address, command, stdin=self.fill_stdin_with(command.stdin), what="unlocking"
            )
            self.progress.phase(address, "unlocked")

        results = self.fan_out(locked, unlock_one)
        failures = [r for r in results.values() if isinstance(r, BaseException)]
        if failures:
            if not all(isinstance(f, SshError) for f in failures):
                raise failures[0]
            lines = [line for f in failures if isinstance(f, SshError) for line in f.problems]
            raise RemoteCommandFailed(
                *lines, hint="check that the key file belongs to this swarm (a rotated key?)"
            )
        return UnlockResult(
            unlocked=tuple(locked), not_locked=tuple(a for a in facts if a not in locked)
        )

    def step_runner(self, plan: Plan, step: Step) -> Callable[[stepgraph.Context], None]:
        def run(context: stepgraph.Context) -> None:
            started = time.monotonic()
            try:
                self.run_step(plan, step)
            finally:
                with self._token_lock:
                    self.step_spans.append((step_phase(step), started, time.monotonic()))

        return run

    def token(self, anchor: str, role: str) -> str:
        """A join token, fetched once from the anchor; kept only in memory."""
        with self._token_lock:
            if role not in self._secrets:
                result = self.run_command(
                    anchor, commands.fetch_join_token(role), what=f"reading the {role} join token"
                )
                self._secrets[role] = result.stdout.strip()
            return self._secrets[role]

    def run_step(self, plan: Plan, step: Step) -> None:
        """Run the host commands of one planned step (commands.step_commands); a label update
        through its host's coalescer (one command for the updates that queue up meanwhile)."""
        if step.action == "update" and not step.args.get("then_nodes"):
            self.progress.phase(step.target.split("#")[0], _STEP_PHASES["update"])
            self.label_updates(plan, step.host).submit(step)
        else:
            self.run_commands(plan, step)

    def label_updates(self, plan: Plan, host: str) -> Coalescer[Step]:
        with self._token_lock:
            if host not in self._label_updates:
                self._label_updates[host] = Coalescer(
                    lambda steps: self.run_commands(plan, merged_updates(host, steps))
                )
            return self._label_updates[host]

    def run_commands(self, plan: Plan, step: Step) -> None:
        target = step.target.split("#")[0]
        if step.action == "update-many":
            for update in step.args["updates"]:
                self.progress.phase(update.get("address", ""), "labelling")
        elif step.action == "join":
            self.progress.phase(target, f"joining as {step.args['role']}")
        elif step.action in _STEP_PHASES:
            self.progress.phase(target, _STEP_PHASES[step.action])
        with self._token_lock:
            joined = dict(self.node_ids)
        for command in commands.step_commands(step, joined):
            stdin = self.fill_stdin(plan, command.stdin) if command.stdin else None
            result = self.run_command(step.host, command, stdin=stdin, what=step_label(step))
            if command.output == commands.OUTPUT_MANAGER_STATE:
                self.ensure_manager(plan, step, _last_line(result.stdout))
            else:
                self.take_output(command, target, result.stdout)
        if step.action in ("join", "init", "promote", "demote"):
            self.progress.phase(target, f"{step.action} done")

    def ensure_manager(self, plan: Plan, step: Step, state: str) -> None:
        """After a promotion: a node that is not a Reachable manager (typically swarm state
        ``error``: its manager could not reach raft) leaves and rejoins as a manager through
        a live manager - at once, instead of waiting for the Ready timeout."""
        if state == "reachable":
            return
        target = step.target
        log.warning(
            "%s: not a reachable manager after its promotion (%s); rejoining it as a manager "
            "through %s",
            target,
            state or "no state",
            step.args["remote"][0],
        )
        self.progress.phase(target, "repairing: rejoining as manager")
        for where, command in commands.rejoin_manager(step):
            address = step.host if where == commands.ON_NODE else plan.anchor
            stdin = self.fill_stdin(plan, command.stdin) if command.stdin else None
            result = self.run_command(address, command, stdin=stdin)
            if command.output != commands.OUTPUT_MANAGER_STATE:
                self.take_output(command, target, result.stdout)
            elif (after := _last_line(result.stdout)) != "reachable":
                raise SwarmError(
                    f"{target} was promoted and then rejoined as a manager through "
                    f"{step.args['remote'][0]}, but it is still not a reachable manager "
                    f"({after or 'no state'}); the other managers are unchanged",
                    hint=f"check that {target} reaches {step.args['remote'][0]} ({SWARM_PORTS}), "
                    "then re-run",
                )
        self.progress.phase(target, "rejoined as manager")

    def run_command(
        self,
        address: str,
        command: commands.HostCommand,
        stdin: str | None = None,
        what: str = "",
    ) -> CommandResult:
        """Run one host command; a failure is one line naming ``what`` ran where, and why.

        The command's text (it can be thousands of characters: update-many) is only in the
        debug log (--debug), never in the error.
        """
        what = what or command_label(command.run)
        try:
            with self.hosts.use(address) as connection:
                result = connection.run(
                    command.run,
                    stdin=stdin,
                    mutating=command.mutating,
                    secret_output=command.secret_output,
                    check=False,
                )
        except RemoteCommandFailed as exc:  # the channel broke or timed out
            log.debug("%s: failed command: %s", address, command.run)
            raise RemoteCommandFailed(
                *(line.replace(f"`{brief_command(command.run)}`", what) for line in exc.problems),
                hint=exc.hint,
            ) from None
        if result.exit_status != 0:
            log.debug("%s: failed command: %s", address, command.run)
            reason = failure_reason(result.stderr, result.stdout, command.secret_output)
            raise RemoteCommandFailed(
                f"{address}: {what} failed (exit {result.exit_status}): {reason}"
            )
        return result

    def fill_stdin(self, plan: Plan, template: str) -> str:
        """A stdin template with its secrets filled in (they never leave this process
        except on the SSH channel's stdin)."""
        text = template
        for role, placeholder in commands.JOIN_TOKENS.items():
            if placeholder in text:
                text = text.replace(placeholder, self.token(plan.anchor, role))
        return self.fill_stdin_with(text)

    def fill_stdin_with(self, template: str) -> str:
        """Fill in the secrets this run already holds (the unlock key)."""
        text = template
        with self._token_lock:
            if commands.UNLOCK_KEY in text and "unlock-key" in self._secrets:
                text = text.replace(commands.UNLOCK_KEY, self._secrets["unlock-key"])
        if "<<" in text:
            raise SwarmError("a host command asks for a secret this run does not have")
        return text

    def take_output(self, command: commands.HostCommand, target: str, stdout: str) -> None:
        """Keep what a command's output is for: join tokens (in memory), a new node's id."""
        with self._token_lock:
            if command.output == commands.OUTPUT_SECRETS:
                for line in stdout.splitlines():
                    name, _, secret = line.partition(" ")
                    if secret.strip():
                        self._secrets[name] = secret.strip()
            elif command.output == commands.OUTPUT_NODE_ID:
                lines = stdout.strip().splitlines()
                if lines:
                    self.node_ids[target] = lines[-1]
            elif command.output == commands.OUTPUT_NODES:
                try:
                    self.nodes_seen = parse_node_lines(stdout.splitlines())
                except ValueError:
                    self.nodes_seen = ()

    # --- the end: every node Ready ---------------------------------------------------------

    def wait_ready(self, plan: Plan, timeout: float) -> tuple[NodeStatus, ...]:
        """Poll `docker node ls` on the anchor until every node is Ready with its role.

        The plan's last step may have read the node list already (``then_nodes``): if every
        node is Ready in it, that is the answer, without another round trip."""
        seen = self.nodes_seen
        if seen and not not_ready(plan, seen):
            return node_table(plan, seen)
        with self.hosts.use(plan.anchor) as anchor:
            return poll_ready(anchor, plan, timeout)


def merged_updates(host: str, steps: list[Step]) -> Step:
    """One step for label updates that queued up on ``host``: the step itself when alone,
    else one update-many (the updates in parallel, in one command)."""
    if len(steps) == 1:
        return steps[0]
    return Step(
        id=f"update-many:{host}",
        action="update-many",
        host=host,
        target=host,
        args={"updates": [dict(step.args) for step in steps]},
    )


def needs_connection(host: Host, facts: HostFacts, tuning: Mapping[str, str]) -> bool:
    """Whether a run is likely to use a host's own connection after its facts: managers (the
    anchor runs tokens, label updates and the Ready poll), hosts that join, leave, get tuned or
    have docker started. A worker already in a swarm, tuned, has no step of its own (its labels
    change on the anchor); should the plan give it one after all, it is reconnected."""
    wanted_digest = tuning.get(host.address, "")
    return (
        host.role == "manager"
        or facts.is_manager
        or host.state == "absent"
        or facts.swarm_state != "active"
        or not facts.docker_running
        or bool(facts.facts_error)
        or (
            bool(wanted_digest)
            and facts.tuning_digest != wanted_digest
            and not facts.tuned_by_cloud_init
        )
    )


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1].strip() if lines else ""
