"""IMAP: Dovecot on our accounts and Maildirs, its configuration rendered from the settings
(`config`), run in the foreground (`server`)."""
