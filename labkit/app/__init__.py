"""The application layer: a learner's session (observe, grade, journal), setup, and the event recorder.
Above the engine (grading/) and the chapters (labs/); below the notebooks, classes, hub and CLI."""
