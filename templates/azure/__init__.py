"""Pure builders: the cluster spec -> Azure resource bodies (ARM REST shape) and ARM template.

One set of bodies feeds both `swarmstack azure deploy` (the SDK, concrete ids and values) and
`swarmstack azure template` (an ARM template, parameter and resourceId() expressions); the only
difference is the `Refs` object that renders references and parameters.
"""

from __future__ import annotations

from .arm import arm_template
from .refs import ArmRefs, ConcreteRefs, Refs
from .resources import AzureResource, build_resources
from .settings import AzureSettings, resolve_settings

__all__ = [
    "ArmRefs",
    "AzureResource",
    "AzureSettings",
    "ConcreteRefs",
    "Refs",
    "arm_template",
    "build_resources",
    "resolve_settings",
]
