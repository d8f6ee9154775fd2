"""The OpenAPI 3.1 document of /api/v1, built as data and served at /api/v1/openapi.json."""
from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from shared.accounts.idempotency import MAX_KEY
from shared.accounts.mailbox_search import COUNT_LIMIT
from shared.accounts.message_tracking import MAX_PAGE as LOG_PAGE_MAX
from shared.accounts.quarantine import MAX_LISTED
from shared.accounts.suppressions import MAX_PAGE as SUPPRESSION_PAGE_MAX
from shared.mail.message_log import STATUSES, VIAS
from shared.mail.sender_lists import MAX_SENDER_CHARS
from shared.mail.webhooks import EVENTS, MAX_URL

Schema = dict[str, Any]

ERROR_CODES = [
    "bad_request", "unauthorized", "forbidden", "not_found", "method_not_allowed", "conflict",
    "too_large", "unsupported_media_type", "validation_error", "invalid_address", "invalid_value",
    "limit_exceeded", "quota_exceeded", "locked", "too_many_requests", "internal_error",
    "temporarily_unavailable",
]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], required: list[str] | None = None, *, closed: bool = True) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


STRING, BOOLEAN = {"type": "string"}, {"type": "boolean"}
COUNT = {"type": "integer", "minimum": 0, "maximum": 2**62}
STRINGS = {"type": "array", "items": {"type": "string", "maxLength": 1024}}
ADDRESS = {"type": "string", "minLength": 3, "maxLength": 320}
POLICY = {"type": "string", "enum": ["anyone", "domain", "members"]}
DAY = {"type": ["string", "null"], "format": "date"}
INBOUND_CHECKS = BOOLEAN | {
    "description": "Whether mail arriving on the MX for the domain is checked (SPF, DKIM, DMARC, blocklists, content)"
}
REQUIRE_2FA = BOOLEAN | {
    "description": "Whether its users must sign in to the portal with a second factor (they enrol at their next sign-in)"
}
FORBID_EXTERNAL_FORWARDING = BOOLEAN | {
    "description": "The domain's mailboxes may forward only to hosted domains; saved forwards to other "
    "domains are left unused (their mail stays in the mailbox). Aliases and groups are not governed by it."
}
LISTING = {"type": "string", "enum": ["allow", "block"],
           "description": "allow: skips the content filter's junk verdict; block: refused with 550 5.7.1"}
SENDER = {"type": "string", "minLength": 1, "maxLength": MAX_SENDER_CHARS}
AUDIT_TOKEN = obj({"id": COUNT, "name": STRING}, ["id", "name"]) | {
    "type": ["object", "null"],
    "description": "The API token the change was made with (its owner is the actor); null for the portal and the CLI",
}

MAILBOX_PROPERTIES: dict[str, Schema] = {
    "address": STRING, "domain": STRING, "name": STRING, "quota_bytes": COUNT,
    "used_bytes": {"type": "integer"}, "messages": {"type": "integer"}, "active": BOOLEAN,
    "smtp_enabled": BOOLEAN, "pop3_enabled": BOOLEAN, "imap_enabled": BOOLEAN, "is_global_admin": BOOLEAN,
    "managed_domains": STRINGS, "last_login": ref("LastLogin"),
}
MAILBOX_REQUIRED = ["address", "domain", "name", "quota_bytes", "used_bytes", "messages", "active",
                    "smtp_enabled", "pop3_enabled", "imap_enabled", "is_global_admin", "managed_domains", "last_login"]
LOGIN = obj({"at": {"type": "string", "format": "date-time"}, "from": STRING}, ["at", "from"]) | {
    "type": ["object", "null"], "description": "The last successful login: when (UTC) and from which client address; null for never",
}
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
PROTOCOL = {"type": "string", "enum": ["smtp", "pop3", "imap"]}


MOMENT = {"type": "string", "format": "date-time"}
SEARCH_MOMENT = "ISO 8601 date-time (UTC when it has no zone), a date such as 2026-12-06, or Unix seconds"
LOG_STATUS = {"type": "string", "enum": list(STATUSES)}
LOGGED_MESSAGE: dict[str, Schema] = {
    "id": STRING, "message_id": STRING, "sender": STRING, "size": COUNT,
    "via": {"type": "string", "enum": list(VIAS)}, "client_ip": STRING, "user": STRING, "created_at": MOMENT,
}
EVENT = {"type": "string", "enum": list(EVENTS)}
WEBHOOK_PROPERTIES: dict[str, Schema] = {
    "id": COUNT, "domain": STRING, "url": STRING, "events": {"type": "array", "items": EVENT},
    "enabled": BOOLEAN | {"description": "False once deliveries failed for 24 hours; add the endpoint again"},
    "disabled_at": {"type": ["string", "null"], "format": "date-time"},
    "last_error": STRING, "created_at": {"type": "string", "format": "date-time"},
}


def items_of(name: str, **extra: Schema) -> Schema:
    return obj({"items": {"type": "array", "items": ref(name)}, **extra}, ["items", *extra])


HEADER_TEXT = {"type": "string", "maxLength": 998}
SEND_SCHEMAS: dict[str, Schema] = {
    "SendRequest": {
        **obj(
            {
                "from": HEADER_TEXT | {"description": "An address the token's owner may send as: `a@b` or `Name <a@b>`"},
                "to": STRINGS, "cc": STRINGS,
                "bcc": STRINGS | {"description": "Recipients not shown in the message"},
                "subject": HEADER_TEXT, "text": STRING, "html": STRING,
                "attachments": {"type": "array", "items": obj(
                    {"filename": {"type": "string", "maxLength": 255},
                     "content_type": {"type": "string", "maxLength": 127},
                     "content_base64": STRING},
                    ["filename", "content_type", "content_base64"],
                )},
                "headers": {"type": "object", "additionalProperties": HEADER_TEXT,
                            "description": "More header fields (not From, Sender, To, Cc, Bcc, Subject, Date, "
                                           "Message-ID, Resent-*, trace fields or Content-*)"},
                "tags": {"type": "array", "maxItems": 10, "items": {"type": "string", "minLength": 1, "maxLength": 128},
                         "description": "Labels repeated in this message's webhook events, not in the message"},
                "raw_base64": STRING | {"description": "A whole RFC 5322 message instead of subject, text, html, "
                                        "attachments and headers; Date and Message-ID are added when "
                                        "missing, its Bcc fields taken out"},
            },
            ["from", "to"],
        ),
        "description": "Text, html or both (or raw_base64). Local recipients get the message at once, others "
        "through the outbound queue, DKIM-signed. The sender's hourly submission limit applies.",
    },
    "SendAnswer": obj(
        {
            "id": STRING | {"description": "The message's id in logs and webhook events"},
            "message_id": STRING | {"description": "The Message-ID header field without its angle brackets, "
                                    "as the message log and its search keep it"},
            "recipients": {"type": "array", "items": obj(
                {"address": STRING, "status": {"type": "string", "enum": ["delivered", "queued", "bounced", "refused", "suppressed"],
                                                 "description": "suppressed: the sending domain's suppression list "
                                                 "holds the address after a hard bounce; nothing was sent to it"}},
                ["address", "status"],
            )},
        },
        ["id", "message_id", "recipients"],
    ),
    "Problem": obj(
        {"type": STRING, "title": STRING, "status": {"type": "integer"}, "detail": STRING,
         "code": {"type": "string", "enum": ERROR_CODES},
         "field": STRING | {"description": "The request field at fault, e.g. `to[1]` or `Idempotency-Key`"}},
        ["type", "title", "status", "detail", "code"],
    ),
    "Webhook": obj(WEBHOOK_PROPERTIES, list(WEBHOOK_PROPERTIES)),
    "WebhookCreated": obj(
        WEBHOOK_PROPERTIES | {"secret": STRING | {"description": "whsec_…: verifies the signatures; shown only now"}},
        [*WEBHOOK_PROPERTIES, "secret"],
    ),
    "WebhookCreate": obj(
        {"domain": {"type": "string", "minLength": 1, "maxLength": 255},
         "url": {"type": "string", "minLength": 1, "maxLength": MAX_URL},
         "events": {"type": "array", "minItems": 1, "items": EVENT}},
        ["domain", "url", "events"],
    ),
    "WebhookList": items_of("Webhook"),
    "Suppression": obj(
        {"domain": STRING | {"description": "The sending domain"}, "address": STRING,
         "reason": STRING | {"description": "The remote server's reply that refused the address for good"},
         "created_at": MOMENT, "expires_at": MOMENT},
        ["domain", "address", "reason", "created_at", "expires_at"],
    ),
    "SuppressionPage": items_of("Suppression", next_cursor={"type": ["string", "null"]}),
}

SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {
            "error": obj(
                {
                    "code": {"type": "string", "enum": ERROR_CODES},
                    "message": STRING,
                    "fields": {"type": "object", "additionalProperties": STRINGS},
                },
                ["code", "message"],
            )
        },
        ["error"],
    ),
    "Domain": obj(
        {
            "name": STRING, "display_name": STRING, "active": BOOLEAN, "inbound_checks": INBOUND_CHECKS,
            "require_2fa": REQUIRE_2FA, "forbid_external_forwarding": FORBID_EXTERNAL_FORWARDING,
            "max_mailboxes": COUNT, "max_aliases": COUNT, "quota_bytes": COUNT, "default_mailbox_quota": COUNT,
            "used_bytes": {"type": "integer"}, "mailboxes": COUNT, "aliases": COUNT,
            "alias_domains": STRINGS,
        },
        ["name", "display_name", "active", "inbound_checks", "require_2fa", "forbid_external_forwarding",
         "max_mailboxes", "max_aliases", "quota_bytes", "default_mailbox_quota", "used_bytes", "mailboxes", "aliases",
         "alias_domains"],
    ),
    "DomainCreate": obj(
        {"name": {"type": "string", "minLength": 1, "maxLength": 255}, "max_mailboxes": COUNT,
         "max_aliases": COUNT, "quota_bytes": COUNT, "default_mailbox_quota": COUNT, "require_2fa": REQUIRE_2FA},
        ["name"],
    ),
    "DomainUpdate": obj(
        {"active": BOOLEAN, "inbound_checks": INBOUND_CHECKS, "require_2fa": REQUIRE_2FA,
         "forbid_external_forwarding": FORBID_EXTERNAL_FORWARDING, "max_mailboxes": COUNT, "max_aliases": COUNT,
         "quota_bytes": COUNT, "default_mailbox_quota": COUNT},
    ),
    "AliasDomainCreate": obj({"name": {"type": "string", "minLength": 1, "maxLength": 255}}, ["name"]),
    "Sender": obj(
        {"sender": STRING, "listing": LISTING, "created": {"type": "string", "format": "date-time"}},
        ["sender", "listing", "created"],
    ),
    "SenderCreate": {
        **obj({"sender": SENDER, "listing": LISTING}, ["sender", "listing"]),
        "description": "A whole address (local@domain) or a whole domain (example.com or @example.com); "
        "no wildcards. Listing a sender again replaces its listing.",
    },
    "SenderList": items_of("Sender"),
    "Mailbox": obj(MAILBOX_PROPERTIES, MAILBOX_REQUIRED),
    "LastLogin": obj({"portal": LOGIN, "smtp": LOGIN, "pop3": LOGIN, "imap": LOGIN}, ["portal", "smtp", "pop3", "imap"]),
    "AppPassword": obj(
        {"id": COUNT, "name": STRING, "protocols": {"type": "array", "items": PROTOCOL},
         "created_at": {"type": "string", "format": "date-time"}, "expires_at": TIME_OR_NULL,
         "last_used_at": TIME_OR_NULL, "last_used_from": {"type": ["string", "null"]}},
        ["id", "name", "protocols", "created_at", "expires_at", "last_used_at", "last_used_from"],
    ),
    "AppPasswordList": items_of("AppPassword"),
    "AppPasswordCreate": obj(
        {"name": {"type": "string", "minLength": 1, "maxLength": 120},
         "protocols": {"type": "array", "items": PROTOCOL, "description": "Empty or omitted: all three"},
         "expires_days": {"type": "integer", "minimum": 1, "maximum": 36500, "description": "Omitted: never"}},
        ["name"],
    ),
    "AppPasswordCreated": obj(
        {"app_password": ref("AppPassword"),
         "password": STRING | {"description": "Shown this once; only a hash is kept"}},
        ["app_password", "password"],
    ),
    "MailboxDetail": obj(
        {**MAILBOX_PROPERTIES, "out_of_office": ref("OutOfOffice")}, [*MAILBOX_REQUIRED, "out_of_office"]
    ),
    "MailboxCreate": obj(
        {"address": ADDRESS, "password": {"type": "string", "minLength": 1, "maxLength": 1024},
         "name": {"type": "string", "maxLength": 255}, "quota_bytes": COUNT},
        ["address"],
    ),
    "MailboxCreated": obj(
        {"mailbox": ref("Mailbox"), "password": {"type": ["string", "null"]}}, ["mailbox", "password"]
    ),
    "MailboxUpdate": obj(
        {"name": {"type": "string", "maxLength": 255}, "quota_bytes": COUNT, "active": BOOLEAN,
         "smtp_enabled": BOOLEAN, "pop3_enabled": BOOLEAN, "imap_enabled": BOOLEAN, "is_global_admin": BOOLEAN,
         "managed_domains": STRINGS, "out_of_office": ref("OutOfOffice")},
    ),
    "OutOfOffice": {
        **obj(
            {"enabled": BOOLEAN, "subject": {"type": "string", "maxLength": 255, "pattern": "^[^\\r\\n]*$"},
             "text": {"type": "string", "maxLength": 10000}, "starts_on": DAY, "ends_on": DAY},
        ),
        "description": "An automatic reply (RFC 3834), sent once per sender per 7 days from starts_on to ends_on "
        "(inclusive, UTC days; null is open-ended). Sent as a whole, it replaces the setting: omitted fields "
        "are empty. An empty subject replies with \"Auto: \" and the original subject.",
    },
    "Forwarding": obj(
        {"address": STRING, "destinations": STRINGS, "keep_copy": BOOLEAN}, ["address", "destinations", "keep_copy"]
    ),
    "ForwardingUpdate": obj({"destinations": STRINGS, "keep_copy": BOOLEAN}, ["destinations"]),
    "Password": obj({"password": {"type": "string", "minLength": 1, "maxLength": 1024}}, ["password"]),
    "MailboxPage": items_of(
        "Mailbox",
        total=COUNT | {"description": f"Matches, counted up to {COUNT_LIMIT:,}; see total_exact"},
        total_exact=BOOLEAN | {"description": "False when more than `total` match"},
        offset=COUNT,
        limit=COUNT,
        next={"type": ["string", "null"], "description": "Path and query of the next page (an `after` cursor), or null"},
    ),
    "JunkMessage": obj(
        {"id": {"type": "string", "pattern": "^[A-Za-z0-9_=+\\\\-][A-Za-z0-9._=+\\\\-]{0,69}$",
                "description": "Stable while the message is in Junk (Dovecot's renames keep it); "
                "after a release it is the message's POP3 UIDL"},
         "date": {"type": "string", "format": "date-time", "description": "Date: in UTC, or when it was stored"},
         "sender": STRING, "subject": STRING,
         "score": {"type": ["number", "null"], "description": "X-Spam-Score; null when the message was not scored"},
         "reasons": STRINGS | {"description": "X-Spam-Reasons: rspamd symbols, or e.g. \"DMARC quarantine\""},
         "size": COUNT},
        ["id", "date", "sender", "subject", "score", "reasons", "size"],
    ),
    "JunkList": items_of(
        "JunkMessage",
        address=STRING,
        total=COUNT | {"description": "Messages in Junk; the newest `limit` are listed"},
    ),
    "DomainList": items_of("Domain"),
    "Alias": obj({"source": STRING, "destinations": STRINGS}, ["source", "destinations"]),
    "AliasCreate": obj({"source": ADDRESS, "destinations": STRINGS}, ["source", "destinations"]),
    "AliasUpdate": obj({"destinations": STRINGS}, ["destinations"]),
    "AliasList": items_of("Alias"),
    "Group": obj({"address": STRING, "members": STRINGS, "policy": POLICY}, ["address", "members", "policy"]),
    "GroupCreate": obj({"address": ADDRESS, "members": STRINGS, "policy": POLICY}, ["address", "members"]),
    "GroupUpdate": obj({"members": STRINGS, "policy": POLICY}),
    "GroupList": items_of("Group"),
    "AuditEntry": obj(
        {"at": {"type": "string", "format": "date-time"}, "actor": STRING, "ip": STRING, "action": STRING,
         "target": STRING, "domain": STRING, "detail": STRING, "token": AUDIT_TOKEN},
        ["at", "actor", "ip", "action", "target", "domain", "detail", "token"],
    ),
    "AuditPage": items_of("AuditEntry", offset=COUNT, limit=COUNT),
    "LoggedRecipient": obj(
        {"address": STRING, "status": LOG_STATUS, "attempts": COUNT, "reply": STRING, "updated_at": MOMENT},
        ["address", "status", "attempts", "reply", "updated_at"],
    ),
    "TimelineEvent": obj(
        {"status": LOG_STATUS, "reply": STRING, "relay": STRING, "at": MOMENT}, ["status", "reply", "relay", "at"]
    ),
    "LoggedRecipientTimeline": obj(
        {"address": STRING, "status": LOG_STATUS, "attempts": COUNT, "reply": STRING, "updated_at": MOMENT,
         "timeline": {"type": "array", "items": ref("TimelineEvent")}},
        ["address", "status", "attempts", "reply", "updated_at", "timeline"],
    ),
    "LoggedMessage": obj(LOGGED_MESSAGE | {"recipients": {"type": "array", "items": ref("LoggedRecipient")}},
                         [*LOGGED_MESSAGE, "recipients"]),
    "LoggedMessageTimeline": obj(
        LOGGED_MESSAGE | {"recipients": {"type": "array", "items": ref("LoggedRecipientTimeline")}},
        [*LOGGED_MESSAGE, "recipients"],
    ),
    "LoggedMessagePage": items_of("LoggedMessage", next_cursor={"type": ["string", "null"]}),
    "Me": obj(
        {"address": STRING, "is_global_admin": BOOLEAN, "domains": STRINGS, "read_only": BOOLEAN},
        ["address", "is_global_admin", "domains", "read_only"],
    ),
    **SEND_SCHEMAS,
}


def error_response(description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


COMMON_ERRORS = {
    "400": error_response("Malformed request"),
    "401": error_response("Missing, unknown or expired token"),
    "403": error_response("The token may not do this (read-only, or a global admin is needed)"),
    "404": error_response("Does not exist, or is outside the token's domains"),
    "405": error_response("Method not allowed"),
    "409": error_response("Already exists or in use"),
    "422": error_response("Invalid input, with a stable code"),
}


def problem_response(description: str) -> Schema:
    return {"description": description, "content": {"application/problem+json": {"schema": ref("Problem")}}}


SEND_OPERATION: Schema = {
    "summary": "Send a message as the send token's owner (scope send)",
    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY},
                    "description": "The same key from the same token within 24 hours answers as the first request "
                    "did, and sends nothing more"}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": ref("SendRequest")}}},
    "responses": {
        "202": {"description": "Accepted: delivered or queued per recipient",
                "content": {"application/json": {"schema": ref("SendAnswer")}}},
        "400": problem_response("Not a JSON object"),
        "401": problem_response("Missing, unknown or expired token"),
        "403": problem_response("Not a send token, or `from` is not the owner's to use"),
        "409": problem_response("A request with this Idempotency-Key is still being processed"),
        "413": problem_response("Larger than the message size limit"),
        "422": problem_response("A field is invalid: `field` names it"),
        "429": problem_response("The owner's hourly submission limit is reached"),
        "503": problem_response("Storage is unavailable; try again"),
    },
}


def operation(summary: str, ok: tuple[str, str | None], body: str | None = None, params: list[Schema] | None = None) -> Schema:
    status, schema = ok
    success: Schema = {"description": summary}
    if schema:
        success["content"] = {"application/json": {"schema": ref(schema)}}
    op: Schema = {"summary": summary, "responses": {status: success, **COMMON_ERRORS}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
    if params:
        op["parameters"] = params
    return op


def path_param(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}}


def query_param(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema}


PAGE_PARAMS = [query_param("offset", {"type": "integer", "minimum": 0, "maximum": 10**9}),
               query_param("limit", {"type": "integer", "minimum": 0, "maximum": 500})]
DOMAIN_FILTER = query_param("domain", {"type": "string", "maxLength": 255})
TEXT_FILTER = {"type": "string", "maxLength": 320}
SEARCH = query_param("search", TEXT_FILTER) | {
    "description": "A case-insensitive part of the address or the name; under 3 characters, the start of the address"
}
AFTER = query_param("after", TEXT_FILTER) | {
    "description": "Only mailboxes whose address sorts after this one (the last of the previous page): "
    "unlike a deep offset, as fast as the first page"
}


def paths() -> dict[str, Schema]:
    name, address, source = [path_param("name")], [path_param("address")], [path_param("source")]
    return {
        "/domains": {
            "get": operation("List the domains the token may see", ("200", "DomainList")),
            "post": operation("Create a domain (global admin)", ("201", "Domain"), "DomainCreate"),
        },
        "/domains/{name}": {
            "parameters": name,
            "get": operation("Read a domain", ("200", "Domain")),
            "patch": operation("Change limits, enable/disable or switch inbound checks (global admin)",
                               ("200", "Domain"), "DomainUpdate"),
            "delete": operation("Delete a domain with its mailboxes and mail (global admin)", ("204", None)),
        },
        "/domains/{name}/alias-domains": {
            "parameters": name,
            "post": operation("Add an alias domain (global admin)", ("201", "Domain"), "AliasDomainCreate"),
        },
        "/domains/{name}/alias-domains/{alias_name}": {
            "parameters": [*name, path_param("alias_name")],
            "delete": operation("Remove an alias domain (global admin)", ("204", None)),
        },
        "/domains/{name}/senders": {
            "parameters": name,
            "get": operation("The domain's allowed and blocked senders", ("200", "SenderList")),
            "post": operation("Allow or block a sender (the domain's managers)", ("201", "Sender"), "SenderCreate"),
        },
        "/domains/{name}/senders/{sender}": {
            "parameters": [*name, {**path_param("sender"), "schema": {"type": "string", "minLength": 1}}],
            "delete": operation("Take a sender off the allow or block list", ("204", None)),
        },
        "/mailboxes": {
            "get": operation(
                "Search mailboxes, one bounded page at a time",
                ("200", "MailboxPage"),
                params=[DOMAIN_FILTER, SEARCH, AFTER, *PAGE_PARAMS],
            ),
            "post": operation("Create a mailbox; without a password one is generated and returned once",
                              ("201", "MailboxCreated"), "MailboxCreate"),
        },
        "/mailboxes/{address}": {
            "parameters": address,
            "get": operation("Read a mailbox with its out-of-office reply", ("200", "MailboxDetail")),
            "patch": operation("Change name, quota, switches, roles or the out-of-office reply",
                               ("200", "MailboxDetail"), "MailboxUpdate"),
            "delete": operation("Delete a mailbox and its mail", ("204", None)),
        },
        "/mailboxes/{address}/password": {
            "parameters": address,
            "put": operation("Set the password", ("204", None), "Password"),
        },
        "/mailboxes/{address}/forwarding": {
            "parameters": address,
            "get": operation("Read where the mailbox forwards its mail", ("200", "Forwarding")),
            "put": operation("Replace the forwarding addresses (empty = off); keep_copy defaults to true",
                             ("200", "Forwarding"), "ForwardingUpdate"),
        },
        "/mailboxes/{address}/junk": {
            "parameters": address,
            "get": operation("List the mailbox's Junk messages, newest first, with the spam verdict",
                             ("200", "JunkList"), params=[query_param("limit", {"type": "integer", "minimum": 0,
                                                                               "maximum": MAX_LISTED})]),
        },
        "/mailboxes/{address}/junk/{id}/release": {
            "parameters": [*address, path_param("id")],
            "post": operation("Move a Junk message into the inbox, unread, with its POP3 UIDL (400 for a malformed id)",
                              ("204", None)),
        },
        "/mailboxes/{address}/junk/{id}": {
            "parameters": [*address, path_param("id")],
            "delete": operation("Delete a Junk message and give its bytes back to the quota (400 for a malformed id)",
                                ("204", None)),
        },
        "/mailboxes/{address}/app-passwords": {
            "parameters": address,
            "get": operation("List the mailbox's app passwords", ("200", "AppPasswordList")),
            "post": operation("Make an app password for SMTP, POP3 and/or IMAP (never the portal); "
                              "its password is in the reply, once", ("201", "AppPasswordCreated"), "AppPasswordCreate"),
        },
        "/mailboxes/{address}/app-passwords/{id}": {
            "parameters": [*address, path_param("id")],
            "delete": operation("Revoke an app password: the next login with it is refused", ("204", None)),
        },
        "/aliases": {
            "get": operation("List aliases", ("200", "AliasList"), params=[DOMAIN_FILTER]),
            "post": operation("Create an alias (source @domain = catch-all)", ("201", "Alias"), "AliasCreate"),
        },
        "/aliases/{source}": {
            "parameters": source,
            "get": operation("Read an alias", ("200", "Alias")),
            "put": operation("Replace the destinations", ("200", "Alias"), "AliasUpdate"),
            "delete": operation("Delete an alias", ("204", None)),
        },
        "/groups": {
            "get": operation("List group mailboxes", ("200", "GroupList"), params=[DOMAIN_FILTER]),
            "post": operation("Create a group mailbox", ("201", "Group"), "GroupCreate"),
        },
        "/groups/{address}": {
            "parameters": address,
            "get": operation("Read a group mailbox", ("200", "Group")),
            "patch": operation("Change members or sending policy", ("200", "Group"), "GroupUpdate"),
            "delete": operation("Delete a group mailbox", ("204", None)),
        },
        "/audit": {
            "get": operation(
                "The audit log, newest first",
                ("200", "AuditPage"),
                params=[DOMAIN_FILTER, query_param("actor", TEXT_FILTER), query_param("action", TEXT_FILTER),
                        query_param("text", TEXT_FILTER), *PAGE_PARAMS],
            ),
        },
        "/me": {"get": operation("What the presented token may do", ("200", "Me"))},
        "/messages": {
            "get": operation(
                "The message log, newest first: each message accepted or refused, with its recipients' states",
                ("200", "LoggedMessagePage"),
                params=[query_param("sender", TEXT_FILTER), query_param("recipient", TEXT_FILTER),
                        query_param("message_id", {"type": "string", "maxLength": 1024}),
                        query_param("status", LOG_STATUS),
                        query_param("since", MOMENT) | {"description": SEARCH_MOMENT},
                        query_param("until", MOMENT) | {"description": SEARCH_MOMENT + "; a bare date includes that day"},
                        query_param("cursor", {"type": "string", "pattern": "^[0-9a-f]{20}$"}
                                    | {"description": "next_cursor of the page before"}),
                        query_param("limit", {"type": "integer", "minimum": 1, "maximum": LOG_PAGE_MAX})],
            ),
            "post": SEND_OPERATION,
        },
        "/messages/{id}": {
            "parameters": [path_param("id")],
            "get": operation("One logged message with each recipient's timeline", ("200", "LoggedMessageTimeline")),
        },
        "/webhooks": {
            "get": operation("The webhooks of the token's domains", ("200", "WebhookList"), params=[DOMAIN_FILTER]),
            "post": operation("Add a webhook to a domain (its managers); its URL must resolve to public addresses",
                              ("201", "WebhookCreated"), "WebhookCreate"),
        },
        "/suppressions": {
            "get": operation(
                "The suppression lists of the token's domains, newest first: addresses a remote server refused "
                "with a 5xx, not sent to until the entry expires",
                ("200", "SuppressionPage"),
                params=[DOMAIN_FILTER, query_param("address", TEXT_FILTER | {"description": "A part of the address"}),
                        query_param("cursor", {"type": "string", "pattern": "^[0-9]{1,10}$"}
                                    | {"description": "next_cursor of the page before"}),
                        query_param("limit", {"type": "integer", "minimum": 1, "maximum": SUPPRESSION_PAGE_MAX})],
            ),
        },
        "/suppressions/{domain}/{address}": {
            "parameters": [path_param("domain"), path_param("address")],
            "delete": operation("Send to the address from the domain again (its managers; audited)", ("204", None)),
        },
        "/webhooks/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}],
            "delete": operation("Remove a webhook with its pending deliveries", ("204", None)),
        },
    }


def build_document(server_url: str) -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Beacon Mail admin API",
            "version": "1.0.0",
            "description": "Domains, mailboxes, aliases and groups, sender lists. Every error is JSON with a stable `code`.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "bm_… token"}},
        },
    }


def document() -> Response:
    return jsonify(build_document(request.url_root.rstrip("/") + "/api/v1"))
