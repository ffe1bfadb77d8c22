"""Benchmark: the controller's cost of an SSH fan-out to 100, 500 and 1000 hosts.

One OpenSSH sshd runs in a network namespace created for the run, where the whole of
198.18.0.0/22 is a local address; every host of the fan-out is one of those addresses, with
its own known_hosts line (as in a real cluster's known_hosts). Per host the controller does
what swarmstack does: a verified connection (host key checked against known_hosts, never
trust on first use), one command (`echo ok`), close. Connections run on a pool of
--max-parallel threads.

On one machine the server side (an sshd fork and a key exchange per connection) caps any tool
at a few connections per second per core, so the figure of merit is the controller's own
cost: CPU per host (user + system of the controller process, from the Connector's creation -
known_hosts and key parsed - to the last close), peak RSS and peak threads; wall time is
reported beside it. Each round runs in a fresh controller process (inside the namespace) so
peak RSS and threads are its own. Raw rounds are appended as JSON lines to
bench/results/fanout-<UTC time>.jsonl with the machine's core count and load.

--hold keeps every connection open until all hosts are done, as `converge()` does (each open
paramiko connection has a transport thread): that shows the cost of holding N connections.

--tools bootstrap-plan runs the real thing instead of the proxy: `swarmstack bootstrap --plan`
(connect, host-key check, facts, plan; --no-tuning) as a whole process, against stand-in
`docker`/`curl` commands on the server side that answer the facts as a formed swarm of N nodes
(the first address its leader manager), so the plan is "no changes" (bench/fanout_plan.py).

--tools pyinfra,ansible runs the same fan-out with `pyinfra INVENTORY exec -- echo ok` and
`ansible all -m command -a 'echo ok'` (--forks = --max-parallel, pipelining), both checking host
keys strictly against the same known_hosts, from a bench-only virtualenv (--tools-venv; see
bench/fanout_tools.py). Every tool is measured from outside the same way: CPU of its whole
process tree (start-up included), summed memory (PSS) and threads sampled every 0.1 s, wall.

Needs root (network namespace). Examples:

    sudo .venv/bin/python bench/fanout.py                             # 100/500/1000, 3 rounds
    sudo .venv/bin/python bench/fanout.py --sizes 100 --rounds 1 --max-parallel 16
    sudo .venv/bin/python bench/fanout.py --tools swarmstack,pyinfra,ansible \\
        --tools-venv /tmp/fanout-tools --rounds 1
    sudo .venv/bin/python bench/fanout.py --tools bootstrap-plan --rounds 1
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import ipaddress
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fanout_plan import check_no_changes, install_stand_ins, plan_command, write_answers
from fanout_tools import ansible_command, measure, pyinfra_command

NETWORK = ipaddress.ip_network("198.18.0.0/22")  # 1022 host addresses, inside the namespace
RESULTS = Path(__file__).resolve().parent / "results"
SSHD = "/usr/sbin/sshd"
COMMAND = "echo ok"
TOOLS = ("swarmstack", "bootstrap-plan", "pyinfra", "ansible")
SESSION_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # sshd's default


def host_addresses(count: int) -> list[str]:
    hosts = NETWORK.hosts()
    return [str(next(hosts)) for _ in range(count)]


# --- the controller (one round, inside the namespace) ---------------------------------------


def controller_round(args: argparse.Namespace) -> dict[str, Any]:
    """Fan out to ``args.hosts`` hosts; return this process's figures."""
    from swarmstack.provisioners.inventory import SshSettings
    from swarmstack.provisioners.ssh import Connection, Connector

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # --hold keeps N sockets open
    addresses = host_addresses(args.hosts)
    settings = SshSettings(
        known_hosts=Path(args.known_hosts), user="root", key=Path(args.key), connect_window=60
    )
    peak_threads = _ThreadPeak()
    held: list[Connection] = []
    held_lock = threading.Lock()
    rss_before = _rss_kib()
    cpu_started, started = _cpu(), time.monotonic()
    connector = Connector(settings)  # known_hosts and the key are parsed here, once

    def one_host(address: str) -> None:
        connection = connector.connect(address)
        peak_threads.sample()
        result = connection.run(COMMAND)
        if result.stdout != "ok\n":
            raise RuntimeError(f"{address}: unexpected output {result.stdout!r}")
        if args.hold:
            with held_lock:
                held.append(connection)
        else:
            connection.close()

    with cf.ThreadPoolExecutor(args.max_parallel) as pool:
        list(pool.map(one_host, addresses))
    for connection in held:
        connection.close()
    connector.close()
    wall, cpu = time.monotonic() - started, _cpu() - cpu_started
    return {
        "hosts": args.hosts,
        "max_parallel": args.max_parallel,
        "hold": args.hold,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_host": round(1000 * cpu / args.hosts, 2),
        "hosts_per_cpu_s": round(args.hosts / cpu, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_before_mib": round(rss_before / 1024, 1),
        "peak_threads": peak_threads.peak,
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class _ThreadPeak:
    """The most threads alive at once, read whenever a connection has just been made (a
    sampling thread would cost more CPU than it measures)."""

    def __init__(self) -> None:
        self.peak = threading.active_count()
        self._lock = threading.Lock()

    def sample(self) -> None:
        count = threading.active_count()
        with self._lock:
            self.peak = max(self.peak, count)


# --- the harness (namespace, sshd, keys, rounds) --------------------------------------------


@contextmanager
def namespace_with_sshd(folder: Path, stand_ins: Path | None = None) -> Iterator[str]:
    """A network namespace where 198.18.0.0/22 is local, with one sshd answering on all of it
    (its sessions find the commands in ``stand_ins`` first, if given)."""
    name = f"swarmstack-fanout-{os.getpid()}"
    _run("ip", "netns", "add", name)
    try:
        _run("ip", "-n", name, "link", "set", "lo", "up")
        _run("ip", "-n", name, "route", "add", "local", str(NETWORK), "dev", "lo", "table", "local")
        for key in ("host_ed25519", "user_ed25519"):
            _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(folder / key))
        (folder / "authorized_keys").write_text((folder / "user_ed25519.pub").read_text())
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        log = folder / "sshd.log"
        (folder / "sshd_config").write_text(
            "ListenAddress 0.0.0.0:22\n"  # inside the namespace only
            f"HostKey {folder / 'host_ed25519'}\n"
            f"AuthorizedKeysFile {folder / 'authorized_keys'}\n"
            "AllowUsers root\nPermitRootLogin prohibit-password\nPidFile none\nUsePAM no\n"
            "StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UseDNS no\nMaxStartups 2000:100:4000\nLogLevel INFO\n"
            # bash sources ~/.bashrc when sshd starts it (SSH_CLIENT set, SHLVL < 2); a heavy
            # one (pyenv init) would be timed instead of the command.
            "SetEnv SHLVL=1" + (f" PATH={stand_ins}:{SESSION_PATH}" if stand_ins else "") + "\n"
        )
        config = folder / "sshd_config"
        sshd = subprocess.Popen(
            ["ip", "netns", "exec", name, SSHD, "-D", "-E", str(log), "-f", str(config)]
        )
        try:
            _wait_for(log, "Server listening", sshd)
            yield name
        finally:
            sshd.terminate()
            sshd.wait(timeout=10)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _run(*command: str) -> None:
    subprocess.run(command, check=True)


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.05)
    sys.exit(f"sshd did not start: {log.read_text(errors='replace') if log.exists() else ''}")


def write_known_hosts(folder: Path, count: int) -> Path:
    """One line per host address, all with the one sshd's key (as ssh-keyscan would give)."""
    host_key = (folder / "host_ed25519.pub").read_text().split()[:2]
    path = folder / f"known_hosts-{count}"
    path.write_text("".join(f"{a} {' '.join(host_key)}\n" for a in host_addresses(count)))
    return path


def run_round(
    tool: str, namespace: str, folder: Path, hosts: int, args: argparse.Namespace
) -> dict[str, Any]:
    known_hosts = write_known_hosts(folder, hosts)
    addresses = host_addresses(hosts)
    env = None
    if tool == "swarmstack":
        command = [
            sys.executable, __file__, "--controller", "--hosts", str(hosts),
            "--max-parallel", str(args.max_parallel), "--known-hosts", str(known_hosts),
            "--key", str(folder / "user_ed25519"),
        ] + (["--hold"] if args.hold else [])  # fmt: skip
    elif tool == "bootstrap-plan":
        write_answers(folder, addresses)
        command = plan_command(folder, addresses, known_hosts, args.max_parallel)
    elif tool == "pyinfra":
        command = pyinfra_command(
            args.tools_venv, folder, addresses, known_hosts, args.max_parallel
        )
    else:
        command, env = ansible_command(
            args.tools_venv, folder, addresses, known_hosts, args.max_parallel
        )
    load_before = os.getloadavg()[0]
    measured = measure(["ip", "netns", "exec", namespace, *command], env)
    if measured.returncode != 0:
        sys.exit(f"{tool} failed at {hosts} hosts:\n{measured.stderr[-3000:]}")
    if tool == "bootstrap-plan" and (wrong := check_no_changes(measured.stdout)):
        sys.exit(f"bootstrap --plan at {hosts} hosts: {wrong}")
    figures: dict[str, Any] = {
        "tool": tool,
        "hosts": hosts,
        "max_parallel": args.max_parallel,
        "wall_s": measured.wall_s,
        "cpu_s": measured.cpu_s,
        "cpu_ms_per_host": round(1000 * measured.cpu_s / hosts, 2),
        "peak_pss_mib": measured.peak_pss_mib,
        "peak_threads": measured.peak_threads,
        "cores": os.cpu_count(),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    if tool == "swarmstack":  # the controller's own figures, start-up and imports excluded
        figures["fanout"] = json.loads(measured.stdout.splitlines()[-1])
    return figures


def summarize(rounds: list[dict[str, Any]]) -> None:
    """A Markdown table of medians over rounds (peaks: the largest)."""
    print(
        "| tool | hosts | CPU per host (whole process) | fan-out CPU per host | "
        "peak memory (PSS) | peak threads | wall |"
    )
    print("|---|---|---|---|---|---|---|")
    for tool, hosts in sorted({(r["tool"], r["hosts"]) for r in rounds}):
        mine = [r for r in rounds if (r["tool"], r["hosts"]) == (tool, hosts)]
        cpu = statistics.median(r["cpu_ms_per_host"] for r in mine)
        own = [r["fanout"]["cpu_ms_per_host"] for r in mine if "fanout" in r]
        fanout = f"{statistics.median(own):.2f} ms" if own else "-"
        print(
            f"| {tool} | {hosts} | {cpu:.2f} ms | {fanout} | "
            f"{max(r['peak_pss_mib'] for r in mine):.0f} MiB | "
            f"{max(r['peak_threads'] for r in mine)} | "
            f"{statistics.median(r['wall_s'] for r in mine):.1f} s |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,500,1000", help="host counts (max 1000)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-parallel", type=int, default=32, help="controller threads")
    parser.add_argument("--hold", action="store_true", help="keep connections open, as converge")
    parser.add_argument("--tools", default="swarmstack", help=",".join(TOOLS))
    parser.add_argument("--tools-venv", type=Path, help="the virtualenv of pyinfra and ansible")
    parser.add_argument("--note", default="", help="a note kept with each round's figures")
    parser.add_argument("--controller", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--hosts", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--known-hosts", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.controller:
        print(json.dumps(controller_round(args)))
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    tools = args.tools.split(",")
    if not set(tools) <= set(TOOLS):
        sys.exit(f"--tools: any of {', '.join(TOOLS)}, not {args.tools!r}")
    if set(tools) & {"pyinfra", "ansible"} and args.tools_venv is None:
        sys.exit("--tools-venv: needed for pyinfra and ansible (see bench/fanout_tools.py)")
    if max(sizes) > NETWORK.num_addresses - 2 or os.geteuid() != 0:
        sys.exit("needs root, and at most 1000 hosts")
    # SIGTERM as an exception, so that the namespace and sshd are removed on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"fanout-{stamp}.jsonl"
    folder = Path(tempfile.mkdtemp(prefix="swarmstack-fanout-"))
    rounds: list[dict[str, Any]] = []
    try:
        stand_ins = install_stand_ins(folder) if "bootstrap-plan" in tools else None
        with namespace_with_sshd(folder, stand_ins) as namespace:
            for number in range(1, args.rounds + 1):
                for tool, hosts in ((t, h) for h in sizes for t in tools):
                    figures = run_round(tool, namespace, folder, hosts, args) | {"round": number}
                    if args.note:
                        figures["note"] = args.note
                    rounds.append(figures)
                    with out.open("a") as handle:
                        handle.write(json.dumps(figures, sort_keys=True) + "\n")
                    print(json.dumps(figures, sort_keys=True), file=sys.stderr)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"raw rounds: {out}", file=sys.stderr)
    summarize(rounds)


if __name__ == "__main__":
    main()
