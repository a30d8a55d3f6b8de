"""Lambda runtime code of wavectl: packaged as the task functions' asset (this folder only)."""
