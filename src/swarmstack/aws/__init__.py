"""Thin AWS clients: session and retries, error translation, template upload, change sets,
stack events, node discovery. Everything that talks to AWS goes through here; the CLI decides."""
