"""Azure SDK exceptions become one line each, without secrets (no network here)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ClientAuthenticationError

from swarmstack.azure.failures import credential_error


def test_default_credential_failures_are_one_line_without_the_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s3cret-value-xyz")
    message = (
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
        "Attempted credentials:\n"
        "\tEnvironmentCredential: client secret s3cret-value-xyz rejected\n"
        "\tManagedIdentityCredential: no response from the IMDS endpoint.\n"
        "To mitigate this issue, please refer to the troubleshooting guidelines here at "
        "https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot."
    )
    error = credential_error(ClientAuthenticationError(message=message))
    assert error.problems == (
        "no usable Azure credential: DefaultAzureCredential failed to retrieve a token from "
        "the included credentials.",
    )
    assert error.hint is not None
    assert "az login" in error.hint
    assert "s3cret" not in str(error) + error.hint
