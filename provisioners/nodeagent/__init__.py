"""The node agent: the program every AWS instance runs to form, heal and publish its swarm.

It ships inside the user data (see swarmstack.cloudinit.agent) and runs on Debian's own
python3 and python3-boto3. Decisions are pure functions (``decisions``); the AWS calls
(``aws``) and the Docker Engine API (``engine``) are thin adapters; ``main`` wires them.
Nothing here may import beyond the standard library, boto3, swarmstack.contract and
swarmstack.provisioners.swarmapi (the Engine API bodies the SSH bootstrap sends too).
"""
