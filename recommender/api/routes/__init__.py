"""Routes by audience: widget (public), questions and search (public), articles (publishing, token),
editor (decisions, review, audit, coverage; token), health, and pages (widget.js, /demo/, /editor/)."""
