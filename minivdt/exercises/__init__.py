"""Notebook helpers — exercise checks and solutions for the course notebooks: lessonN.check_<name>(answer), lessonN.solution_<name>."""
