"""The grading engine: chapters' checks run on one observation, the journal, the session."""
