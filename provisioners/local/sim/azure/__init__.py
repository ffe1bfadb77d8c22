"""The Azure side of the simulation: Resource Manager's template deployments.

arm.TemplateDeployment evaluates a template (expressions, parameters, conditions, copy loops,
dependsOn order, reference(), outputs) into the PUTs Resource Manager would make;
deployments.DeploymentsEndpoint serves .../providers/Microsoft.Resources/deployments/{name}
over any resource store.
"""

from __future__ import annotations

from .arm import AZURE_CLOUD, DeploymentScope, ReferenceLookup, ResourcePut, TemplateDeployment
from .deployments import DeploymentsEndpoint, Reply, ResourceStore
from .errors import ArmError

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
