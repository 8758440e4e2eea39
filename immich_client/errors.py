"""Errors that say what failed, in words a self-hoster can act on. The API key never appears."""

from __future__ import annotations


class ImmichError(Exception):
    """Any failure talking to Immich."""

    status: int | None = None

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ImmichAuthError(ImmichError):
    """401: the API key is missing, wrong or revoked."""


class ImmichPermissionError(ImmichError):
    """403: the API key lacks a permission."""


class ImmichNotFound(ImmichError):
    """404, or a lookup (album by name…) that found nothing."""


class ImmichNotReady(ImmichNotFound):
    """A fresh asset's thumbnail that Immich has not generated yet (404 right after upload)."""


class ImmichBadRequest(ImmichError):
    """400: Immich rejected the request's shape; the message carries its validation text."""


class ImmichNoAccess(ImmichNotFound, ImmichBadRequest):
    """400 "Not found or no <permission> access" (or "Album not found"): how Immich v3 answers for an id
    that does not exist *or* that the key's user may not use (another user's photo, a deleted tag).

    It is both an :class:`ImmichNotFound` (the thing is gone or not ours) and an :class:`ImmichBadRequest`
    (the status is 400), so either ``except`` catches it.
    """


class ImmichUnavailable(ImmichError):
    """The server could not be reached or kept failing for longer than the retry budget."""
