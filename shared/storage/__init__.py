"""Where data lives: the engine and sessions (`db`), the data model (`models`) and its
migrations, the few statements run raw on the hot path (`rawsql`), the Maildirs on disk
(`maildirs`), the per-process directory cache, and the lookups every use case shares.

May import: `shared.config` and `shared.errors`. No business rule lives here: what is
allowed (quota, rights, routing) is decided in `shared.mail` and `shared.accounts`.
"""
