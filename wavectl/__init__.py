"""wavectl: migration waves as versioned, approval-gated AWS Step Functions workflows."""

__version__ = "0.1.0"
