"""What the web interfaces share (DESIGN.md): the cached data (``data``), the response
models (``models``), the views that shape data into them (``views``), the per-server
state (``state``) and the HTTP security policy (``security``). The API and the
dashboard import these and never each other."""

from realyield.presentation.data import DataService, DataSnapshot, NoDataError
from realyield.presentation.state import SharedState, shared_state, snapshot

__all__ = ["DataService", "DataSnapshot", "NoDataError", "SharedState", "shared_state", "snapshot"]
