"""The simulated Azure: Resource Manager (with its template deployments), Key Vault, blobs and
instance metadata, for the service tests (on loopback) and `swarmstack local up --cloud azure`
(on a cluster's bridge).

arm.TemplateDeployment evaluates a template (expressions, parameters, conditions, copy loops,
dependsOn order, reference(), outputs) into the PUTs Resource Manager would make;
deployments.DeploymentsEndpoint serves .../providers/Microsoft.Resources/deployments/{name}
over any resource store. resource_manager is the fake Resource Manager and Entra ID token
endpoint; node_cloud what a node talks to (IMDS, Key Vault, blobs; access from role
assignments).
"""

from __future__ import annotations

from .arm import AZURE_CLOUD, DeploymentScope, ReferenceLookup, ResourcePut, TemplateDeployment
from .deployments import DeploymentsEndpoint, ResourceStore
from .errors import ArmError
from .replies import Reply

__all__ = [
    "AZURE_CLOUD",
    "ArmError",
    "DeploymentScope",
    "DeploymentsEndpoint",
    "ReferenceLookup",
    "Reply",
    "ResourcePut",
    "ResourceStore",
    "TemplateDeployment",
]
