"""The batch command line (photo-organizer) that the Makefile drives."""
