"""The companion service: Flask + gunicorn + APScheduler around the same pass code as the batch CLI."""

from .app import create_app

__all__ = ["create_app"]
