"""The Photo Album Organizer engine: discover → hash → group → score → act → report.

Nothing in this package knows about Flask or HTTP; batch/ and service/ drive it, immich_client/
talks to Immich.
"""

__version__ = "0.1.0"
