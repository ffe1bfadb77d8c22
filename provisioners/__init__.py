"""Facts -> commands: the SSH fan-out and the swarm state machine."""
