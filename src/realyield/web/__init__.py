"""The web dashboard served by the API app (templates and static files, no build step)."""
