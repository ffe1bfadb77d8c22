"""What runs on a host, as plain data: planned steps in, shell commands out. No I/O.

``step_commands(step)`` turns one planned swarm step into the commands its host receives;
``read_facts``, ``list_nodes`` and ``fetch_join_token`` are the read-only commands around
the plan. The executor (bootstrap.py) runs exactly these and nothing else, so what a host
receives is reviewed in the plan data files (tests/unit/swarm_plans/*.json), not only on
real machines.

Secrets never appear in a command's text (the text is logged and, while it runs, readable by
every local user in /proc/<pid>/cmdline). A command that needs one names it in its ``stdin``
template with a placeholder such as ``<<manager join token>>``; the executor fills it in at
run time and sends it over the SSH channel's stdin. On the host, no process gets a secret in
its argv or environment either: joins go to the Docker Engine API on its unix socket with the
request body (holding the token) on curl's stdin, the unlock key goes to `docker swarm unlock`
on stdin, and secrets printed by docker are echoed by the shell's builtin echo.

curl is what talks to the socket: it is on the usual cloud images (Ubuntu, Debian, Amazon
Linux, RHEL, Flatcar; Docker's own install instructions need it), where python3 is not always
(Flatcar, minimal images) and perl is absent from several; the local machines' image lists it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..contract import DOCKER_SOCKET
from .facts import FACTS_COMMAND
from .swarm import Step
from .swarmapi import init_body, init_options, join_body

# Placeholders a stdin template may hold; the executor knows how to obtain each.
WORKER_TOKEN = "<<worker join token>>"  # noqa: S105 - a placeholder, not a secret
MANAGER_TOKEN = "<<manager join token>>"  # noqa: S105 - a placeholder
JOIN_TOKENS = {"worker": WORKER_TOKEN, "manager": MANAGER_TOKEN}
UNLOCK_KEY = "<<unlock key>>"

# What the executor takes from a command's stdout.
OUTPUT_NODE_ID = "node id"  # the last line: the id of the node that just joined
OUTPUT_SECRETS = "secrets"  # lines "NAME VALUE"; NAME is worker, manager or unlock-key
OUTPUT_JOIN_TOKEN = "join token"  # noqa: S105 - one token (the name of an output kind)
OUTPUT_NODES = "nodes"  # the node list (GET /nodes) after an update, for the wait for Ready
OUTPUT_MANAGER_STATE = "manager state"  # "reachable", or what the node is instead

MANAGER_SETTLE_TIMEOUT = 30.0  # seconds a promoted node may take to join raft

DRAIN_TIMEOUT = 60.0  # seconds a drained node's tasks may take to stop
# A join docker timed out on ("Timeout was reached before node joined", on a busy swarm) goes
# on in the background. A manager's is waited for (it may already be a raft member: leaving
# would leave a dead member behind); a worker's is waited for briefly, then the worker leaves
# and joins again (a background attempt can stall for good on a loaded swarm).
MANAGER_JOIN_WAIT = 120.0  # seconds
WORKER_JOIN_WAIT = 30.0  # seconds per attempt
WORKER_JOIN_ATTEMPTS = 3


@dataclass(frozen=True)
class HostCommand:
    """One shell command for one host (run as root: via ``sudo -n`` for other SSH users)."""

    run: str  # shell text; logged, so it never holds a secret
    stdin: str = ""  # template for stdin; <<...>> placeholders are secrets filled in at run time
    secret_output: bool = False  # stdout holds a secret: never logged, never shown
    mutating: bool = False  # changes the host or the swarm (a dry run runs none of these)
    output: str = ""  # what the executor reads from stdout ("" = nothing)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_facts() -> HostCommand:
    """Everything planning needs from one host, in one read-only round trip."""
    return HostCommand(FACTS_COMMAND)


def list_nodes() -> HostCommand:
    """The node table on a manager, polled until every node is Ready: from the Engine API (a
    fraction of the docker CLI's cost), from the CLI where the API read fails."""
    return HostCommand(f"{_engine_get('/nodes')} || docker node ls --format '{{{{json .}}}}'")


def fetch_join_token(role: str) -> HostCommand:
    """A join token from a manager; the output is the secret."""
    return HostCommand(
        f"docker swarm join-token -q {_role(role)}", secret_output=True, output=OUTPUT_JOIN_TOKEN
    )


def fetch_unlock_key(*, rotate: bool = False) -> HostCommand:
    """The swarm's autolock key from a manager (a new one with ``rotate``)."""
    if rotate:
        return HostCommand(
            _ECHO_UNLOCK_KEY.replace("unlock-key -q", "unlock-key --rotate -q"),
            mutating=True,
            secret_output=True,
            output=OUTPUT_SECRETS,
        )
    return HostCommand(_ECHO_UNLOCK_KEY, secret_output=True, output=OUTPUT_SECRETS)


def unlock_manager() -> HostCommand:
    """Unlock a locked manager; `docker swarm unlock` reads the key from stdin (no terminal)."""
    return HostCommand("docker swarm unlock", stdin=UNLOCK_KEY + "\n", mutating=True)


def step_commands(step: Step, joined: Mapping[str, str] | None = None) -> tuple[HostCommand, ...]:
    """The commands ``step.host`` receives for ``step``.

    ``joined`` maps a host address to the node id its join printed in this run: an update of
    such a node names it by that id (its hostname is unknown to the swarm for a moment).
    """
    build = _BUILDERS.get(step.action)
    if build is None:
        raise ValueError(f"no host commands for step action {step.action!r}")
    return build(step.args, joined or {})


# --- one builder per step action -------------------------------------------------------


def _init(args: Mapping[str, Any], joined: Mapping[str, str]) -> tuple[HostCommand, ...]:
    # Init, then both join tokens (and the unlock key) in the same round trip: the executor
    # keeps the tokens in memory and the key in the user's unlock-key file.
    options = init_options(
        default_addr_pool=args["default_addr_pool"],
        subnet_size=args["default_addr_pool_mask_length"],
        data_path_port=args["data_path_port"],
        cert_expiry_hours=args["cert_expiry_hours"],
        autolock=bool(args.get("autolock")),
    )
    body = init_body(str(args["advertise_addr"]), options)
    # Both tokens from one API read of the swarm (GET /swarm, JSON without spaces), cut out by
    # the shell (no process sees them); a token not found is fetched later with the CLI.
    then = f" && s=$({_engine_get('/swarm')}) && " + " && ".join(
        f'{{ case "$s" in *\\"{key}\\":\\"*) t=${{s#*\\"{key}\\":\\"}}; '
        f't=${{t%%\\"*}}; echo "{role} $t";; esac; }}'
        for role, key in (("worker", "Worker"), ("manager", "Manager"))
    )
    if args.get("autolock"):
        then += f" && {_ECHO_UNLOCK_KEY}"
    return (
        HostCommand(
            _engine_api("/swarm/init") + then,
            stdin=json.dumps(body, sort_keys=True) + "\n",
            mutating=True,
            secret_output=True,
            output=OUTPUT_SECRETS,
        ),
    )


def join_swarm(role: str, advertise_addr: str, remote: str) -> HostCommand:
    """The join alone: POST /swarm/join with the request body (and the token in it) on stdin.
    A planned join step runs this and then reads the new node's id; bench/bootstrap.py times
    exactly this command on the host for docker's floor."""
    body = join_body(advertise_addr, [remote], JOIN_TOKENS[_role(role)])
    return HostCommand(
        _engine_join(role), stdin=json.dumps(body, sort_keys=True) + "\n", mutating=True
    )


def _join(args: Mapping[str, Any], joined: Mapping[str, str]) -> tuple[HostCommand, ...]:
    join = join_swarm(args["role"], str(args["advertise_addr"]), str(args["remote"][0]))
    if "then_update" in args:  # a manager rejoined by a repair labels itself at once
        then, output = f" && {_update_command(args['then_update'])}", ""
    else:  # the new node's id, so that its labels need no wait for its hostname
        # The first "NodeID" of the daemon's info is Swarm.NodeID (RemoteManagers come later).
        # Without it the update names the node by its hostname (retried until it is known).
        then = (
            f' && {{ i=$({_engine_get("/info")}) || i=; case "$i" in *\\"NodeID\\":\\"*) '
            'i=${i#*\\"NodeID\\":\\"}; echo "${i%%\\"*}";; esac; }'
        )
        output = OUTPUT_NODE_ID
    return (HostCommand(join.run + then, stdin=join.stdin, mutating=True, output=output),)


def _leave(args: Mapping[str, Any], joined: Mapping[str, str]) -> tuple[HostCommand, ...]:
    if args.get("was_manager"):
        # A demoted manager may still see itself as one for a moment.
        text = (
            "for i in $(seq 50); do docker swarm leave 2>/dev/null && exit 0; "
            "sleep 0.2; done; docker swarm leave"
        )
    else:
        text = f"docker swarm leave{' --force' if args.get('force') else ''}"
    return (HostCommand(text, mutating=True),)


def _promote(args: Mapping[str, Any], joined: Mapping[str, str]) -> tuple[HostCommand, ...]:
    text = _node_change(f"docker node promote {shlex.quote(args['node'])}")
    return (HostCommand(text, mutating=True),)


def _demote(args: Mapping[str, Any], joined: Mapping[str, str]) -> tuple[HostCommand, ...]:
    # A node promoted whose manager never reached raft (swarm state error) is a manager in
    # the node table but no raft member: demote refuses it, and it can be removed as it is.
    text = _node_change(
        f"docker node demote {shlex.quote(args['node'])}",
        done_when='*"can\'t find manager in raft memberlist"*',
    )
    return (HostCommand(text, mutating=True),)


def _update(args: Mapping[str, Any], joined: Mapping[str, str]) -> tuple[HostCommand, ...]:
    text = _update_command(_by_id(args, joined))
    if args.get("then_nodes"):  # the node list too (a failed read only means a poll later)
        return (
            HostCommand(
                f"{text} && {{ {_engine_get('/nodes')} || true; }}",
                mutating=True,
                output=OUTPUT_NODES,
            ),
        )
    return (HostCommand(text, mutating=True),)


def _update_many(args: Mapping[str, Any], joined: Mapping[str, str]) -> tuple[HostCommand, ...]:
    # In parallel on the anchor, in one round trip; fails if any update fails.
    updates = [_by_id(u, joined) for u in args["updates"]]
    lines = [f'{_update_call(u)} & pids="$pids $!"' for u in updates]
    define = _NODE_UPDATE_FUNCTION + "; " if any(_through_api(u) for u in updates) else ""
    return (
        HostCommand(
            define + "pids=''; " + "; ".join(lines) + "; rc=0; for p in $pids; do "
            "wait $p || rc=1; done; exit $rc",
            mutating=True,
        ),
    )


def _drain(args: Mapping[str, Any], joined: Mapping[str, str]) -> tuple[HostCommand, ...]:
    node = shlex.quote(args["node"])
    return (
        HostCommand(
            _node_change(f"docker node update --availability drain {node}") + " && "
            f"for i in $(seq {int(DRAIN_TIMEOUT * 5)}); do "
            f'[ -z "$(docker node ps {node} -q --filter desired-state=running)" ] && exit 0; '
            "sleep 0.2; done; echo 'tasks still running after the drain timeout' >&2",
            mutating=True,
        ),
    )


def _remove(args: Mapping[str, Any], joined: Mapping[str, str]) -> tuple[HostCommand, ...]:
    force = " --force" if args.get("force") else ""
    return (HostCommand(f"docker node rm{force} {shlex.quote(args['node'])}", mutating=True),)


def _swarm_update(args: Mapping[str, Any], joined: Mapping[str, str]) -> tuple[HostCommand, ...]:
    parts = ["docker swarm update"]
    if "cert_expiry_hours" in args:
        parts.append(f"--cert-expiry {int(args['cert_expiry_hours'])}h")
    if "autolock" in args:
        parts.append(f"--autolock={'true' if args['autolock'] else 'false'}")
    # With autolock the output holds the unlock key: discarded here, read back for the file.
    text = " ".join(parts) + " >/dev/null"
    if args.get("autolock"):
        text += f" && {_ECHO_UNLOCK_KEY}"
    return (
        HostCommand(
            text,
            mutating=True,
            secret_output=True,
            output=OUTPUT_SECRETS if args.get("autolock") else "",
        ),
    )


def _verify_manager(args: Mapping[str, Any], joined: Mapping[str, str]) -> tuple[HostCommand, ...]:
    return (verify_manager(),)


def verify_manager() -> HostCommand:
    """On a node that should be a manager: wait until raft hears from it, or until it is in
    swarm state ``error`` (its manager could not start). The last line says which: the word
    ``reachable``, else the node's state (and its error, which names no secret)."""
    return HostCommand(
        f"for i in $(seq {int(MANAGER_SETTLE_TIMEOUT * 5)}); do "
        "s=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}' "
        '2>/dev/null); case "$s" in '
        "'active true') [ \"$(docker node inspect self --format "
        "'{{.ManagerStatus.Reachability}}' 2>/dev/null)\" = reachable ] && "
        "echo reachable && exit 0;; "
        "error*) break;; esac; sleep 0.2; done; "
        "docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} "
        "{{.Swarm.Error}}' 2>&1 | tr '\\n' ' '; echo",
        output=OUTPUT_MANAGER_STATE,
    )


# Where a repair command runs: on the node being repaired, or on the plan's anchor manager.
ON_NODE, ON_ANCHOR = "node", "anchor"


def rejoin_manager(step: Step) -> tuple[tuple[str, HostCommand], ...]:
    """Repair of a node that did not become a Reachable manager (``verify-manager``): it
    leaves, the anchor demotes and removes its old entry, and it joins again as a manager
    through a live manager (printing its new node id), then is verified again."""
    node = shlex.quote(step.args["node"])
    join = dict(step.args, role="manager")
    return (
        (ON_NODE, HostCommand("docker swarm leave --force", mutating=True)),
        (
            ON_ANCHOR,
            HostCommand(
                f"docker node demote {node} >/dev/null 2>&1; for i in $(seq 50); do "
                f"docker node rm --force {node} >/dev/null 2>&1 && exit 0; sleep 0.2; done; "
                f"docker node rm --force {node}",
                mutating=True,
            ),
        ),
        *((ON_NODE, command) for command in _join(join, {})),
        (
            ON_NODE,
            HostCommand("docker info --format '{{.Swarm.NodeID}}'", output=OUTPUT_NODE_ID),
        ),
        (ON_NODE, verify_manager()),
    )


_BUILDERS = {
    "init": _init,
    "join": _join,
    "leave": _leave,
    "promote": _promote,
    "verify-manager": _verify_manager,
    "demote": _demote,
    "update": _update,
    "update-many": _update_many,
    "drain": _drain,
    "remove": _remove,
    "swarm-update": _swarm_update,
}


# --- shared pieces ---------------------------------------------------------------------


# Printed by the shell's builtin echo: the key is in no process's argv.
_ECHO_UNLOCK_KEY = 'k=$(docker swarm unlock-key -q) && echo "unlock-key $k"'


_NEEDS_CURL = (
    "command -v curl >/dev/null || { echo 'curl is not installed: swarmstack needs it to "
    "join through the Docker API (tokens stay off command lines)' >&2; exit 1; }; "
)
# POST stdin to the Engine API; the HTTP status is appended to the body (" 200").
_CURL_POST = (
    f"curl -sS --unix-socket {DOCKER_SOCKET} -H 'Content-Type: application/json' "
    "--data-binary @- -w ' %{http_code}'"
)
_FAIL_WITH_BODY = "printf '%s\\n' \"${r% *}\" >&2; exit 1"


def _engine_api(path: str) -> str:
    """POST stdin (a JSON body) to the Docker Engine API; fail with the daemon's message.

    The unversioned path is served at the daemon's own API version. curl's -w appends the
    HTTP status after the body; anything but 200 prints the body (the error) and fails.
    """
    return (
        _NEEDS_CURL + f"r=$({_CURL_POST} http://localhost{path}) && "
        '{ [ "${r##* }" = 200 ] || { ' + _FAIL_WITH_BODY + "; }; }"
    )


def _engine_join(role: str) -> str:
    """POST /swarm/join with the body read from stdin (it holds the token: kept in a shell
    variable and sent with the builtin printf, so no process has it in its argv).

    "Timeout was reached before node joined" means the daemon goes on in the background: the
    node is waited for until it is active. A manager waits MANAGER_JOIN_WAIT; a worker waits
    WORKER_JOIN_WAIT, then leaves (POST /swarm/leave?force=1) and joins afresh, at most
    WORKER_JOIN_ATTEMPTS times. Any other error fails at once with the daemon's message.
    """
    manager = role == "manager"
    wait = MANAGER_JOIN_WAIT if manager else WORKER_JOIN_WAIT
    attempts = 1 if manager else WORKER_JOIN_ATTEMPTS
    active = (
        f"i=$({_engine_get('/info')}) && "
        'case "$i" in *\'"LocalNodeState":"active"\'*) true;; *) false;; esac'
    )
    gave_up = (
        f"the node did not join within {wait:.0f} s (docker timed out and went on in the "
        "background)"
        if manager
        else f"the node did not join in {attempts} attempts (docker timed out each time; "
        f"waited {wait:.0f} s, then left and joined again)"
    )
    return (
        _NEEDS_CURL + "b=$(cat); a=0; while :; do a=$((a + 1)); "
        f"r=$(printf '%s\\n' \"$b\" | {_CURL_POST} http://localhost/swarm/join) || exit 1; "
        '[ "${r##* }" = 200 ] && break; '
        'case "$r" in *"Timeout was reached before node joined"*) ;; '
        f"*) {_FAIL_WITH_BODY};; esac; "
        f"ok=; n=0; while [ $n -lt {int(wait * 5)} ]; do if {active}; then ok=1; break; fi; "
        'n=$((n + 1)); sleep 0.2; done; [ -n "$ok" ] && break; '
        f"[ $a -lt {attempts} ] || {{ echo '{gave_up}' >&2; exit 1; }}; "
        f"curl -sS -X POST --unix-socket {DOCKER_SOCKET} "
        "'http://localhost/swarm/leave?force=1' >/dev/null 2>&1; done"
    )


def _engine_get(path: str) -> str:
    """GET from the Docker Engine API (a fraction of a docker CLI call's cost); fails on an
    HTTP error."""
    return f"curl -sf --unix-socket {DOCKER_SOCKET} http://localhost{path}"


def _role(role: str) -> str:
    if role not in JOIN_TOKENS:
        raise ValueError(f"role must be worker or manager, not {role!r}")
    return role


def _by_id(update: Mapping[str, Any], joined: Mapping[str, str]) -> dict[str, Any]:
    """An update of a node that joined in this run names it by the id its join printed."""
    node_id = joined.get(update.get("address", ""))
    return {**update, "node": node_id} if node_id else dict(update)


def _update_command(args: Mapping[str, Any]) -> str:
    """One node's labels and availability, as a command of its own."""
    call = _update_call(args)
    return f"{{ {_NODE_UPDATE_FUNCTION}; {call}; }}" if _through_api(args) else call


def _through_api(args: Mapping[str, Any]) -> bool:
    # Removing a label cannot be written as "the node's labels plus these" (the API's
    # update replaces the whole spec): that rare change keeps the CLI's read-modify-write.
    return not args.get("labels_rm")


def _update_call(args: Mapping[str, Any]) -> str:
    """A call of _NODE_UPDATE_FUNCTION (labels to add as JSON members, availability), or the
    docker CLI for a change that removes labels."""
    if _through_api(args):
        members = json.dumps(dict(sorted(args.get("labels_add", {}).items())))[1:-1]
        members = members.replace('": "', '":"').replace('", "', '","')
        availability = args.get("availability") or ""
        return (
            f"{_NODE_UPDATE} {shlex.quote(args['node'])} {shlex.quote(members)} "
            f"{shlex.quote(availability)}"
        )
    parts = ["docker node update"]
    for key, value in sorted(args.get("labels_add", {}).items()):
        parts.append(f"--label-add {shlex.quote(f'{key}={value}')}")
    for key in args.get("labels_rm", []):
        parts.append(f"--label-rm {shlex.quote(key)}")
    if args.get("availability"):
        parts.append(f"--availability {shlex.quote(args['availability'])}")
    parts.append(shlex.quote(args["node"]))
    # A node that just joined has no hostname in the swarm until its agent reports in (a
    # fraction of a second): "No such node" is retried too.
    return _node_change(" ".join(parts), unknown_node_too=True)


_NODE_UPDATE = "swarmstack_node_update"
# swarmstack_node_update NODE LABELS AVAILABILITY: through the Engine API, two curl calls
# (a fraction of a docker CLI process each): GET /nodes/NODE (its id, Version.Index and Spec),
# then POST /nodes/ID/update?version=N with the spec whose Labels are the node's own followed
# by LABELS (JSON members: a later member wins in the daemon's JSON decoding) and, if given,
# its Availability replaced. The version makes the write fail ("update out of sequence") if
# the managers changed the node in between (its status, right after a join): it is read and
# written again 50 ms later (a fresh read settles the race; a longer pause only delays the
# label), as is a node not known yet by its hostname (404 "node NAME not found"; the
# CLI says "No such node"). The spec is cut
# from the JSON by the shell (no jq or python on every image): Labels, then Role, in the
# order the daemon writes them; anything else fails rather than write a wrong spec.
_NODE_UPDATE_FUNCTION = (
    _NODE_UPDATE + "() { n=0; while :; do "
    f"j=$(curl -sS --unix-socket {DOCKER_SOCKET} -w ' %{{http_code}}' "
    '"http://localhost/nodes/$1") || return 1; '
    'if [ "${j##* }" = 200 ]; then j=${j% *}; '
    'i=${j#*\\"ID\\":\\"}; i=${i%%\\"*}; '
    'v=${j#*\\"Version\\":\\{\\"Index\\":}; v=${v%%\\}*}; '
    's=${j#*\\"Spec\\":}; s=${s%%,\\"Description\\":*}; '
    'case "$s" in *\\"Labels\\":null*) p=${s%%\\"Labels\\":null*}; o=; '
    't=${s#*\\"Labels\\":null};; '
    '*) p=${s%%\\"Labels\\":\\{*}; o=${s#*\\"Labels\\":\\{}; t=${o#*\\}}; o=${o%%\\}*};; esac; '
    'case "$t" in ,\\"Role\\":*) ;; *) echo "node $1: its spec could not be read from '
    'the Docker API" >&2; return 1;; esac; '
    '[ -n "$2" ] && o="$o${o:+,}$2"; '
    '[ -n "$3" ] && t="${t%%,\\"Availability\\":*},\\"Availability\\":\\"$3\\"}"; '
    'j=$(printf \'%s\' "$p\\"Labels\\":{$o}$t" | '
    f"curl -sS --unix-socket {DOCKER_SOCKET} -H 'Content-Type: application/json' "
    "--data-binary @- -w ' %{http_code}' "
    '"http://localhost/nodes/$i/update?version=$v") || return 1; '
    '[ "${j##* }" = 200 ] && return 0; fi; '
    'case "$j" in *"update out of sequence"*) n=$((n + 1)); '
    "[ $n -lt 100 ] && sleep 0.05 && continue;; "
    '*" 404") n=$((n + 1)); [ $n -lt 100 ] && sleep 0.1 && continue;; esac; '
    "printf '%s\\n' \"${j% *}\" >&2; return 1; done; }"
)


def _node_change(command: str, *, unknown_node_too: bool = False, done_when: str = "") -> str:
    """A node change, retried briefly in the same round trip when it races the managers.

    The CLI reads the node, changes it and writes it back with the version it read; when the
    managers changed the node in between (its status, raft membership after a demotion) the
    write fails with "update out of sequence" and a fresh read succeeds.
    """
    retried = '*"update out of sequence"*' + ('|*"No such node"*' if unknown_node_too else "")
    done = f"{done_when}) break;; " if done_when else ""  # an error that means "already so"
    return (
        "{ n=0; until out=$(" + command + " 2>&1); do n=$((n + 1)); "
        f'case "$out" in {done}{retried}) [ $n -lt 50 ] && sleep 0.2 && continue;; esac; '
        "printf '%s\\n' \"$out\" >&2; exit 1; done; }"
    )
