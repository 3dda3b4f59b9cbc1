"""HTTP API: the public widget endpoints and the write endpoints of the publishing system."""

from recommender.api.app import create_app

__all__ = ["create_app"]
