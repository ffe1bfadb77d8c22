"""Azure exceptions -> one-line swarmstack errors that name the resource, code and message."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from azure.core.exceptions import (
    AzureError as SdkAzureError,
)
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
)

from ..errors import (
    AzureAuthorizationFailed,
    AzureCredentialsError,
    AzureError,
    AzureOperationFailed,
    AzureQuotaExceeded,
    SwarmstackError,
)
from .credentials import redact

CREDENTIAL_HINT = (
    "sign in with `az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, "
    "or run where a managed identity is available"
)
_ACTION = re.compile(r"perform action '([^']+)'(?: over scope '([^']+)')?")


@dataclass(frozen=True)
class Failure:
    """What went wrong with one resource, for people."""

    resource: str  # "managers (swarm-managers)"
    code: str
    message: str

    def line(self) -> str:
        return f"{self.resource}: {self.code}: {self.message}"


def expected(exc: BaseException) -> bool:
    """Failures of Azure or of swarmstack's checks, as opposed to bugs."""
    return isinstance(exc, SdkAzureError | SwarmstackError)


def failure_of(resource: str, exc: BaseException) -> Failure:
    code = "Error"
    message = str(exc)
    if isinstance(exc, SwarmstackError):
        code, message = type(exc).__name__, "; ".join(exc.problems)
    elif isinstance(exc, HttpResponseError):
        error = exc.error
        code = (error.code if error is not None and error.code else None) or (
            f"HTTP {exc.status_code}" if exc.status_code else type(exc).__name__
        )
        message = (error.message if error is not None and error.message else None) or (
            exc.reason or message
        )
    return Failure(resource, code, one_line(message))


def error_for(failures: list[Failure]) -> SwarmstackError:
    """The error for the failures of one operation: the most specific kind wins."""
    lines = [failure.line() for failure in failures]
    for failure in failures:
        if failure.code in ("AuthorizationFailed", "LinkedAuthorizationFailed"):
            match = _ACTION.search(failure.message)
            action = match.group(1) if match else "the requested action"
            scope = f" on {match.group(2)}" if match and match.group(2) else ""
            return AzureAuthorizationFailed(
                f"authorization failed: {failure.resource}: the signed-in identity may not "
                f"perform {action}{scope}",
                *[line for line in lines if not line.startswith(failure.resource + ":")],
                hint="ask for a role that grants it (e.g. Contributor on the resource group)",
            )
        if "quota" in failure.code.lower() or (
            failure.code in ("OperationNotAllowed", "SkuNotAvailable")
            and "quota" in failure.message.lower()
        ):
            return AzureQuotaExceeded(
                f"quota exceeded: {failure.line()}",
                *[line for line in lines if line != failure.line()],
                hint="request more quota for the region (Azure portal: Quotas), or use smaller "
                "VM sizes or fewer nodes",
            )
    return AzureOperationFailed(*lines)


def credential_error(exc: ClientAuthenticationError) -> AzureCredentialsError:
    # DefaultAzureCredential lists every credential it tried over many lines; the first line
    # says what failed, --debug shows the rest.
    text = (exc.message or str(exc)).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if "AADSTS" in text and "AADSTS" not in first:
        first += " " + text[text.index("AADSTS") :].split(".")[0]
    return AzureCredentialsError(
        f"no usable Azure credential: {one_line(first)}", hint=CREDENTIAL_HINT
    )


@contextmanager
def azure_errors(doing: str) -> Iterator[None]:
    """Turn SDK exceptions escaping a block into one-line swarmstack errors."""
    try:
        yield
    except ClientAuthenticationError as exc:
        raise credential_error(exc) from None
    except HttpResponseError as exc:
        raise error_for([failure_of(doing, exc)]) from None
    except ServiceRequestError as exc:
        raise AzureError(
            f"{doing}: cannot reach Azure Resource Manager: {one_line(str(exc))}"
        ) from None
    except SdkAzureError as exc:
        raise AzureError(f"{doing}: {one_line(str(exc))}") from None


# urllib3 names the connection object in its errors; the address means nothing to a user.
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>:?\s*")


def one_line(text: str, limit: int = 400) -> str:
    """An Azure message for one line of an error: secrets redacted, spaces folded, cut."""
    text = " ".join(_OBJECT_REPR.sub("", text).split())
    # Identity errors list every credential tried, at length; the first sentence says enough.
    text = redact(text)
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return text
