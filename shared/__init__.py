"""The account and storage layer: the only code that touches the database or the mail store.

    accounts/  who has what: domains, mailboxes, aliases, groups, tokens, rights, audit
    mail/      mail moving: addresses, routing, quota, delivery, maildrop, queue, DSN, DKIM
    storage/   where data lives: engine and sessions, models, migrations, Maildirs
    runtime/   how a service process runs: pre-fork workers, event loop, TLS, connection caps
    config.py  the one settings object;  errors.py  the errors every part raises

Imports run one way: accounts -> mail -> storage -> config/errors; runtime uses only
config/errors. tests/unit/test_layering.py enforces it; docs/architecture.md walks it.
"""
