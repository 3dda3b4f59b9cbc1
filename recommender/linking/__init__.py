"""Questions to fact checks: which questions a change affects, their links, gaps and related questions."""
