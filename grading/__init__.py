"""Instructor-only grading files (never released, never packaged). See README.md."""
