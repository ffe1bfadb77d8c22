"""The simulated Azure: Resource Manager, Key Vault, blobs and instance metadata, for the
service tests (on loopback) and `swarmstack local up --cloud azure` (on a cluster's bridge).

Modules: resource_manager (the fake Resource Manager and Entra ID token endpoint),
node_cloud (what a node talks to: IMDS, Key Vault, blobs; access from role assignments).
"""
