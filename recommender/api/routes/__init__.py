"""Routes by audience: widget (public), questions and search (public), articles (publishing), health."""
