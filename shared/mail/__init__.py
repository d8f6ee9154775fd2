"""Mail moving through the suite: addresses, where mail for an address goes and who may
send as whom (`routing`), quota (`quota`, the one home of the rule), local delivery into
Maildirs, the POP3 maildrop, the outbound queue, bounces (DSN), DKIM, submission rate
limits, the DNS records a hosted domain publishes, and who a message at the MX comes from
(`authentication`: SPF, DKIM, DMARC, ARC).

May import: `shared.storage`, `shared.config` and `shared.errors`; never `shared.accounts`
(account use cases call mail, not the other way round).
"""
