"""Render the host tuning (swarmstack.cloudinit.tuning) as cloud-init user data or a bash script.

Both forms come from the same HostTuning data and share one setup script
(templates/host-setup.sh.j2): cloud-init writes the files in its init stage and runs the script
in its final stage; the SSH form is that script with the files embedded as heredocs.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
import yaml

from .. import __version__
from ..contract import STATE_DIR, TUNING_MARKER
from ..spec import Cloud, ClusterSpec, Role
from . import tuning
from .agent import AGENT_COMMAND, AGENT_UNIT
from .compact import without_comments
from .hostkeys import HostKeys
from .tuning import HostTuning, ManagedFile

HEREDOC_DELIMITER = "SWARMSTACK_FILE_END"


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("swarmstack.cloudinit", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - YAML and bash, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # bash's ${#array[@]} would open a jinja comment
        comment_start_string="<#",
        comment_end_string="#>",
    )
    env.filters["shell_quote"] = shlex.quote
    env.filters["block"] = _block
    # A JSON string is a YAML double-quoted scalar (jinja's tojson escapes for HTML instead).
    env.filters["yaml_string"] = json.dumps
    return env


def _block(text: str, width: int) -> str:
    """Indent a multi-line text for a YAML literal block; the template supplies the last newline."""
    return jinja2.filters.do_indent(text.rstrip("\n"), width)


def _script_context(t: HostTuning, *, embed_files: bool) -> dict[str, Any]:
    marker = {
        "role": t.role_text,
        "cloud": t.cloud,
        "local_machine": t.local_machine,
        "tuning": t.digest,
        "swarmstack": __version__,
    }
    return {
        "t": t,
        "version": __version__,
        "embed_files": embed_files,
        "delimiter": HEREDOC_DELIMITER,
        "state_dir": STATE_DIR,
        "marker": json.dumps(marker, sort_keys=True),
        "docker_key_fingerprint": tuning.DOCKER_APT_KEY_FINGERPRINT,
        "docker_apt_prefix": tuning.docker_apt_version_prefix(t.docker_version),
        "agent_command": AGENT_COMMAND,
        "agent_unit": AGENT_UNIT,
        "prune_timer": tuning.PRUNE_TIMER,
        "paths": {
            "sysctl": tuning.SYSCTL_FILE,
            "modules": tuning.MODULES_FILE,
            "daemon_json": tuning.DAEMON_JSON,
            "audit": tuning.AUDIT_RULES_FILE,
            "sshd": tuning.SSHD_FILE,
            "marker": TUNING_MARKER,
            "data_root": tuning.DOCKER_DATA_ROOT,
            "data_label": tuning.DATA_VOLUME_LABEL,
        },
    }


def _setup_script(t: HostTuning, *, embed_files: bool) -> str:
    if embed_files:
        for file in t.files:
            if f"\n{HEREDOC_DELIMITER}\n" in f"\n{file.content}":
                raise ValueError(f"{file.path}: content contains the heredoc delimiter")
    template = _environment().get_template("host-setup.sh.j2")
    return template.render(_script_context(t, embed_files=embed_files))


@dataclass(frozen=True)
class TuningScript:
    """The SSH form of a host's tuning and the digest its marker records once it has run."""

    text: str
    digest: str  # HostTuning.digest, written into contract.TUNING_MARKER by the script


def ssh_tuning(spec: ClusterSpec, role: Role, *, local_machine: bool = False) -> TuningScript:
    """The idempotent bash script the SSH provisioner runs as root, with its digest.

    For hosts that got no user data (bring-your-own hosts, the local machines), so the
    "generic" cloud. It installs Docker Engine only when the host has none and never fails
    for lack of a package mirror when it has one. ``local_machine=True`` applies only net.*
    sysctls and leaves kernel modules, audit and time alone: the local machines share the
    real host's kernel.
    """
    t = tuning.host_tuning(spec, role, "generic", local_machine=local_machine)
    return TuningScript(_setup_script(t, embed_files=True), t.digest)


def tuning_script(spec: ClusterSpec, role: Role, *, local_machine: bool = False) -> str:
    """The text of ssh_tuning() (what `swarmstack render cloudinit --form script` prints)."""
    return ssh_tuning(spec, role, local_machine=local_machine).text


def render_user_data(
    spec: ClusterSpec, role: Role, cloud: Cloud, *, host_keys: HostKeys | None = None
) -> str:
    """The #cloud-config text for hosts of this role on this cloud (static per spec/role/cloud)."""
    t = tuning.host_tuning(spec, role, cloud)
    authorized_key = spec.ssh_public_key if cloud == "generic" else None
    script = _setup_script(t, embed_files=False)
    if cloud == "aws":  # inside a template with a 51,200-byte inline limit: no comments
        script = without_comments(script)
    setup = ManagedFile(tuning.SETUP_SCRIPT, script, mode=0o755)
    files = (*t.files, setup)
    text = (
        _environment()
        .get_template("user-data.yaml.j2")
        .render(
            t=t,
            files=files,
            host_keys=host_keys,
            authorized_key=authorized_key,
            version=__version__,
            setup_script=tuning.SETUP_SCRIPT,
            marker_file=TUNING_MARKER,
        )
    )
    _check_round_trip(text, files, host_keys, authorized_key)
    return text


def _check_round_trip(
    text: str,
    files: tuple[ManagedFile, ...],
    host_keys: HostKeys | None,
    authorized_key: str | None,
) -> None:
    """The YAML must carry every file byte for byte: a template slip must never reach a host."""
    data = yaml.safe_load(text)
    written = {entry["path"]: entry for entry in data["write_files"]}
    for file in files:
        entry = written.get(file.path)
        if entry is None or entry["content"] != file.content:
            raise AssertionError(f"user data template mangled {file.path}")
        if entry["permissions"] != file.octal_mode or entry["owner"] != file.owner:
            raise AssertionError(f"user data template mangled the mode of {file.path}")
    if host_keys is not None and data["ssh_keys"] != host_keys.cloud_config():
        raise AssertionError("user data template mangled the host keys")
    if authorized_key is not None and data["ssh_authorized_keys"] != [authorized_key]:
        raise AssertionError("user data template mangled the authorized key")
