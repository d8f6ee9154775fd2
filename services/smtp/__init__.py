"""The SMTP front end: MX, submission and the outbound queue worker (see server.py)."""
