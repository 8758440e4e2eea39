"""A small typed client for the Immich v3 REST API: only what Photo Album Organizer uses."""

from .client import ImmichClient
from .contact import ImmichUnreachable, check_server
from .dtos import Album, Asset, FaceBox, Stack, StackInfo, Tag, User, Workflow
from .errors import (
    ImmichAuthError,
    ImmichBadRequest,
    ImmichError,
    ImmichNoAccess,
    ImmichNotFound,
    ImmichNotReady,
    ImmichPermissionError,
    ImmichUnavailable,
)
from .http import normalize_base_url

__all__ = ["ImmichClient", "Album", "Asset", "FaceBox", "Stack", "StackInfo", "Tag", "User", "Workflow", "ImmichError",
           "ImmichAuthError", "ImmichBadRequest", "ImmichNoAccess", "ImmichNotFound", "ImmichNotReady", "ImmichPermissionError",
           "ImmichUnavailable", "ImmichUnreachable", "check_server", "normalize_base_url"]
