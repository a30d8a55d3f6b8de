"""Renderings of the status document (`wavectl.status`): the terminal tables and the HTML page."""
