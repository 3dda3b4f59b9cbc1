"""Text to normalised vectors: the Encoder protocol, its backends and passage splitting."""

from recommender.embedding.base import Encoder
from recommender.embedding.factory import create_encoder

__all__ = ["Encoder", "create_encoder"]
