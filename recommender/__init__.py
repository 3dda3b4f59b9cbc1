"""dive-deeper: related-questions recommendations for a fact-checking site.

The flow follows the packages: articles (parse) -> embedding (encode) -> index (rank)
-> linking (questions to fact checks) -> store (persist) -> api (serve).
"""

__version__ = "0.1.0"
