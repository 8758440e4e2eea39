"""The Immich side of the engine: the source, the actions, the journal and undo, and the record of what
photo-organizer made on a server (shared by every scope, the CLI and the service)."""
