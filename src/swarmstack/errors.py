"""Every error swarmstack raises on purpose, and the process exit codes.

The CLI turns a SwarmstackError into one line per problem on stderr (no traceback unless
--debug) and exits with the error's ``exit_code``. Anything else is a bug and keeps its traceback.
Messages must never contain secrets (join tokens, unlock keys, client secrets).
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from enum import IntEnum
from typing import Any

# A file with thousands of bad entries must not print thousands of lines, and a line must not
# echo a huge value: the first problems and a count of the rest are enough to act on.
MAX_PROBLEM_LINES = 20
MAX_LINE_CHARS = 1000

_SHORT = reprlib.Repr()
_SHORT.maxstring = 80
_SHORT.maxother = 80
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4
_SHORT.maxlevel = 2
MAX_VALUE_CHARS = 100


def shown(value: Any) -> str:
    """A value for an error line: repr-like, but short even for huge or deeply nested data."""
    text = _SHORT.repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def as_written(value: str) -> str:
    """A short printable string as is; anything else (newlines, control characters) escaped."""
    if value and value.isprintable() and value.strip() == value and len(value) <= MAX_VALUE_CHARS:
        return value
    return shown(value)


def _bounded(problems: Sequence[str]) -> tuple[str, ...]:
    # A value that slipped into a message unescaped must not split its line.
    lines = [
        line.replace("\r", "\\r").replace("\n", "\\n") for line in problems[:MAX_PROBLEM_LINES]
    ]
    lines = [
        line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 3] + "..."
        for line in lines
    ]
    if len(problems) > MAX_PROBLEM_LINES:
        lines.append(
            f"... and {len(problems) - MAX_PROBLEM_LINES} more problems "
            "(fix these and run again to see the rest)"
        )
    return tuple(lines)


class ExitCode(IntEnum):
    """Process exit codes; the only place they are defined."""

    OK = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130


class SwarmstackError(Exception):
    """Base of every expected failure; one line per problem, shown without a traceback."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, *problems: str, hint: str | None = None) -> None:
        if not problems:
            raise TypeError("a SwarmstackError needs at least one problem line")
        self.problems: tuple[str, ...] = _bounded(problems)
        super().__init__("\n".join(self.problems))
        self.hint = hint


# --- bad input: exit 2 -------------------------------------------------------------------


class UsageError(SwarmstackError):
    """The command line or its input cannot be used as given."""

    exit_code = ExitCode.USAGE


class SpecError(UsageError):
    """The cluster spec is invalid; ``problems`` holds one line per invalid parameter."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(*problems)


class SpecFileError(UsageError):
    """The cluster spec file cannot be read or is not valid YAML mapping of parameters."""


class InventoryError(UsageError):
    """The bootstrap inventory file is invalid."""


class SshFileError(UsageError):
    """A local SSH file (known_hosts, the private key) cannot be used; found before connecting."""


class ConfirmationRequired(UsageError):
    """A change needs confirmation, but there is no terminal to ask and --yes was not given."""


# --- artefacts swarmstack renders: exit 1 ----------------------------------------------------


class UserDataTooLarge(SwarmstackError):
    """Rendered cloud-init user data is over the cloud's limit even when gzip-compressed."""


# --- operations that failed: exit 1 -------------------------------------------------------


class CloudError(SwarmstackError):
    """A cloud provider refused or failed an operation."""


class NodesSilent(CloudError):
    """Cloud nodes did not publish what the CLI waits for (host keys, readiness) in time."""


class AwsError(CloudError):
    """An AWS call failed."""


class AwsCredentialsError(AwsError):
    """No usable AWS credentials (missing or expired)."""


class AwsAccessDenied(AwsError):
    """AWS denied an action to the caller's identity."""


class StackNotFound(AwsError):
    """The named CloudFormation stack does not exist."""


class StackExists(AwsError):
    """A CloudFormation stack with that name already exists."""


class TemplateRejected(AwsError):
    """CloudFormation rejected the template or the change set."""


class TemplateTooLarge(AwsError):
    """The template is over CloudFormation's size limits even when minified."""


class StackOperationFailed(AwsError):
    """A stack create, update or delete ended in a failed or rolled-back state."""


class StackBusy(AwsError):
    """The stack is in the middle of another operation (or can only be deleted)."""


class ForeignStack(AwsError):
    """The named stack exists but was not created by swarmstack; it is never changed."""


class WatchInterrupted(SwarmstackError):
    """The user stopped watching (Ctrl-C); the stack operation itself carries on."""

    exit_code = ExitCode.INTERRUPTED


class AzureError(CloudError):
    """An Azure Resource Manager call failed."""


class AzureCredentialsError(AzureError):
    """No usable Azure credential or subscription."""


class AzureAuthorizationFailed(AzureError):
    """The signed-in identity may not perform an action (the message names it)."""


class AzureQuotaExceeded(AzureError):
    """A subscription or regional quota (cores, IPs, ...) does not allow the change."""


class AzureOperationFailed(AzureError):
    """Resource Manager refused or failed an operation on a named resource."""


class AzureClusterNotFound(AzureError):
    """The resource group, or the cluster in it, does not exist (like StackNotFound: exit 1)."""


class AzureResourceNotOurs(AzureError):
    """A resource with one of the cluster's names exists but swarmstack did not create it."""


class AzureInterrupted(AzureError):
    """A deploy or destroy was interrupted; operations already accepted continue in Azure."""

    exit_code = ExitCode.INTERRUPTED


class SshError(SwarmstackError):
    """An SSH connection or remote command failed."""


class HostUnreachable(SshError):
    """A host did not accept an SSH connection within the retry window."""


class HostKeyMismatch(SshError):
    """A host presented a key that does not match known_hosts; never retried."""


class HostKeyUnknown(SshError):
    """A host is not in known_hosts and trust on first use was not requested."""


class RemoteCommandFailed(SshError):
    """A command on a host exited non-zero."""


class SwarmError(SwarmstackError):
    """The swarm cannot be brought to the desired state."""


class ForeignSwarm(SwarmError):
    """A host already belongs to a different swarm."""


class QuorumError(SwarmError):
    """The requested change would lose raft quorum, or quorum is already lost."""


class QuorumLost(QuorumError):
    """Raft has no quorum now (no leader, too few reachable managers) - possibly only while
    restarted managers come back, so the bootstrap re-reads for a while before giving up."""


class LocalProviderError(SwarmstackError):
    """The local machines (systemd-nspawn) could not be created, started or removed."""


class NeedsRoot(LocalProviderError):
    """The local provider needs root (network namespaces, mounts, systemd-nspawn)."""
