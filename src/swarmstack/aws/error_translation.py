"""botocore exceptions -> one-line swarmstack errors.

Everything that calls AWS runs inside ``aws_errors()``. The AWS message is kept where it helps
(CloudFormation's reason for rejecting a template, the IAM action that was denied) and dropped
where it only repeats the obvious.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)
from botocore.parsers import ResponseParserError

from ..errors import (
    AwsAccessDenied,
    AwsCredentialsError,
    AwsError,
    StackExists,
    StackNotFound,
    SwarmstackError,
    TemplateRejected,
    UsageError,
)

CREDENTIALS_HINT = (
    "configure credentials: --profile NAME (or AWS_PROFILE), AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, or `aws sso login`"
)
EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
REJECTED_CREDENTIAL_CODES = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "InvalidAccessKeyId",
}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden"}
# Operations whose ValidationError is about the template or its parameters.
TEMPLATE_OPERATIONS = {"CreateChangeSet", "CreateStack", "UpdateStack", "ValidateTemplate"}
_DENIED_ACTION = re.compile(r"perform: ([A-Za-z0-9-]+:[A-Za-z0-9]+)")
_MISSING_STACK = re.compile(r"Stack (?:with id )?\[?([^\]\s]+)\]? does not exist")


@contextmanager
def aws_errors() -> Iterator[None]:
    """Translate botocore exceptions raised inside the block."""
    try:
        yield
    except ClientError as exc:
        raise translate_client_error(exc) from None
    except BotoCoreError as exc:
        raise translate_botocore_error(exc) from None
    except ResponseParserError:
        # Not a BotoCoreError: an endpoint that answered with something other than AWS's
        # format, typically an HTML error page from a proxy or a compatible endpoint.
        raise AwsError(
            "the AWS endpoint sent a response that is not an AWS API response",
            hint="check --endpoint-url / AWS_ENDPOINT_URL and any proxy settings",
        ) from None


def translate_botocore_error(exc: BotoCoreError) -> SwarmstackError:
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AwsCredentialsError("no AWS credentials found", hint=CREDENTIALS_HINT)
    if isinstance(exc, ProfileNotFound):
        return AwsCredentialsError(
            f"AWS profile {exc.kwargs.get('profile')!r} not found in your AWS config files",
            hint="list profiles with `aws configure list-profiles`",
        )
    if isinstance(exc, TokenRetrievalError | SSOError):
        return AwsCredentialsError(
            "AWS credentials expired (the SSO session is over)", hint="run `aws sso login`"
        )
    if isinstance(exc, CredentialRetrievalError):
        return AwsCredentialsError(f"AWS credentials could not be loaded: {exc}")
    if isinstance(exc, NoRegionError):
        return UsageError(
            "no AWS region: set --region, region: in the spec file, AWS_REGION "
            "or a region in your AWS profile"
        )
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return AwsError(
            f"cannot reach the AWS endpoint: {exc}",
            hint="check the network and proxy settings, the endpoint (--endpoint-url, "
            "AWS_ENDPOINT_URL) and that the region exists",
        )
    return AwsError(f"AWS call failed: {exc}")


def translate_client_error(exc: ClientError) -> SwarmstackError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message", "")).strip()
    operation = exc.operation_name
    if code in EXPIRED_CODES:
        return AwsCredentialsError(
            "AWS credentials expired", hint="refresh them (`aws sso login`, or new keys)"
        )
    if code in REJECTED_CREDENTIAL_CODES:
        return AwsCredentialsError(f"AWS rejected the credentials ({code})", hint=CREDENTIALS_HINT)
    if code in DENIED_CODES:
        match = _DENIED_ACTION.search(message)
        action = match.group(1) if match else operation
        return AwsAccessDenied(
            f"access denied: your AWS identity may not perform {action}",
            hint="ask for that permission in your IAM policy, or use another --profile",
        )
    if code == "AlreadyExistsException":
        return StackExists(f"a stack with that name already exists: {message}")
    if code == "ValidationError":
        missing = _MISSING_STACK.search(message)
        if missing or message.endswith("does not exist"):
            name = missing.group(1) if missing else message
            return StackNotFound(f"stack {name} does not exist")
        if operation in TEMPLATE_OPERATIONS:
            return TemplateRejected(f"CloudFormation rejected the template: {message}")
    if code in {"Throttling", "ThrottlingException", "RequestLimitExceeded"}:
        return AwsError(f"{operation}: AWS kept throttling after retries; try again later")
    return AwsError(f"{operation} failed: {code}: {message or 'no message'}")
