"""What a run reports: the node table and result of a converge or an unlock, and how steps,
phases and failures are named in progress, timings and errors (never with a secret).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .ssh import CommandRecord, redact
from .swarm import Plan, PrepStep, Step


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
    # Seconds per phase: connect, facts, prepare, then the steps (init, manager joins, worker
    # joins, labels, ...: first start to last end of each), swarm (all steps), ready.
    timings: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    prepare: tuple[PrepStep, ...] = ()  # host tuning, docker started
    dry_run: bool = False  # nothing was changed: `plan` and `prepare` say what would be
    unlock_key_file: Path | None = None  # autolock: where the unlock key is kept
    unlock_key_saved: bool = False  # this run wrote it (a new swarm, autolock turned on, rotated)

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
            **({"unlock_key_file": str(self.unlock_key_file)} if self.unlock_key_file else {}),
        }


@dataclass(frozen=True)
class UnlockResult:
    unlocked: tuple[str, ...]  # manager addresses unlocked now
    not_locked: tuple[str, ...]  # managers that were not locked

    def to_dict(self) -> dict[str, Any]:
        return {"unlocked": list(self.unlocked), "not_locked": list(self.not_locked)}


def step_phase(step: Step) -> str:
    """The phase a step belongs to in the run's timings."""
    if step.action == "join":
        return f"{step.args['role']} joins"
    if step.action in ("update", "update-many"):
        return "labels"
    return step.action


def phase_spans(spans: list[tuple[str, float, float]]) -> dict[str, float]:
    """Seconds from the first step of each phase starting to the last one ending."""
    bounds: dict[str, tuple[float, float]] = {}
    for phase, started, ended in spans:
        low, high = bounds.get(phase, (started, ended))
        bounds[phase] = (min(low, started), max(high, ended))
    return {phase: high - low for phase, (low, high) in bounds.items()}


MAX_REASON = 300  # characters of a failed command's output shown in its error


def step_label(step: Step) -> str:
    """A step as an error names it: ``step join of 198.18.0.14 (as worker)``."""
    target = step.target.split("#")[0]
    if step.action == "update-many":
        return f"step update-many (labels of {len(step.args['updates'])} nodes)"
    if step.action == "join":
        return f"step join of {target} (as {step.args['role']})"
    return f"step {step.action} of {target}"


def command_label(text: str) -> str:
    """A short name for a command outside the plan: its first words, never its arguments."""
    words = text.split()
    return "`" + " ".join(words[:3]) + (" ...`" if len(words) > 3 else "`")


def failure_reason(stderr: str, stdout: str, secret_output: bool) -> str:
    """The last line a failed command printed (secrets blanked), cut to MAX_REASON."""
    detail = redact(stderr.strip() or ("" if secret_output else stdout.strip()))
    last = detail.splitlines()[-1].strip() if detail else "no output"
    return last if len(last) <= MAX_REASON else last[: MAX_REASON - 3] + "..."


def describe_step(step: Step) -> dict[str, Any]:
    """A step for people and -o json (never holds a secret: tokens are not in steps)."""
    details = {k: v for k, v in step.args.items() if k not in ("then_update",)}
    return {
        "action": step.action,
        "target": step.target.split("#")[0],
        "runs_on": step.host,
        "details": details,
    }
