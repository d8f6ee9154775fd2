"""Who a message at the MX really comes from: SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489)
and ARC (RFC 8617), written down in one Authentication-Results header (RFC 8601), and what the
recipient domains' policy makes of them (`inbound`).

Every DNS lookup goes through shared.mail.resolver; everything here blocks, so the SMTP edge
runs it in a thread.
"""
