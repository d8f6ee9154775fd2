"""Use cases for a domain's webhooks, kept by its managers: add one (its secret shown once),
list them, remove one. What an endpoint may be, and how events reach it, is
`shared.mail.webhooks`'s rule."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from shared.accounts import audit
from shared.accounts.permissions import domain_in_scope, listed_domains, require_manager, require_write
from shared.accounts.views import Actor
from shared.errors import N_, LimitExceeded, NotFound
from shared.mail import webhooks
from shared.storage.db import Database
from shared.storage.lookups import domain_by_name
from shared.storage.models import Domain, Webhook
from shared.storage.times import as_utc

# Each one is called for every event of the domain: a handful is what anyone needs.
MAX_WEBHOOKS_PER_DOMAIN = 20


@dataclass(frozen=True)
class WebhookView:
    id: int
    domain: str
    url: str
    events: tuple[str, ...]
    disabled_at: datetime | None
    last_error: str
    created_at: datetime

    @classmethod
    def of(cls, hook: Webhook, domain: str) -> WebhookView:
        return cls(
            id=hook.id,
            domain=domain,
            url=hook.url,
            events=tuple(hook.events.split()),
            disabled_at=as_utc(hook.disabled_at),
            last_error=hook.last_error,
            created_at=as_utc(hook.created_at),
        )


@dataclass(frozen=True)
class IssuedWebhook:
    """A new webhook: `secret` (whsec_…) verifies its signatures; it is shown this once."""

    secret: str
    webhook: WebhookView


def create_webhook(db: Database, domain: str, url: str, events: Iterable[str], *, actor: Actor) -> IssuedWebhook:
    """Call `url` with the domain's `events`. The URL is checked (and resolved) before anything is written."""
    require_manager(actor.scope)
    require_write(actor.scope)
    name = domain_in_scope(actor.scope, domain)
    chosen = webhooks.check_events(events)
    webhooks.allowed_addresses(db.settings, url)
    secret = webhooks.new_secret()
    with db.session.begin() as s:
        hosted = domain_by_name(s, name)
        existing = s.scalars(select(Webhook.id).where(Webhook.domain_id == hosted.id)).all()
        if len(existing) >= MAX_WEBHOOKS_PER_DOMAIN:
            raise LimitExceeded(N_("%(domain)s has %(limit)d webhooks already"), domain=hosted.name, limit=MAX_WEBHOOKS_PER_DOMAIN)
        hook = Webhook(domain_id=hosted.id, url=url, events=" ".join(chosen), secret=secret, last_error="")
        s.add(hook)
        s.flush()
        audit.record(s, actor, "webhook.create", str(hook.id), hosted.name, f"{url} {' '.join(chosen)}")
        return IssuedWebhook(secret, WebhookView.of(hook, hosted.name))


def list_webhooks(db: Database, domain: str | None = None, *, actor: Actor) -> list[WebhookView]:
    """The webhooks of the actor's domains (of `domain` only, if given), oldest first."""
    require_manager(actor.scope)
    query = (
        select(Webhook, Domain.name)
        .join(Domain, Domain.id == Webhook.domain_id)
        .where(*listed_domains(actor.scope, Webhook.domain_id, domain))
        .order_by(Webhook.id)
    )
    with db.session.begin() as s:
        return [WebhookView.of(hook, name) for hook, name in s.execute(query)]


def remove_webhook(db: Database, webhook_id: int, *, actor: Actor) -> None:
    """Delete a webhook of the actor's domains with its pending deliveries; any other is NotFound."""
    require_manager(actor.scope)
    require_write(actor.scope)
    query = select(Webhook, Domain.name).join(Domain, Domain.id == Webhook.domain_id).where(Webhook.id == webhook_id)
    with db.session.begin() as s:
        found = s.execute(query.where(*listed_domains(actor.scope, Webhook.domain_id, None))).one_or_none()
        if found is None:
            raise NotFound(N_("unknown webhook: %(id)s"), id=webhook_id)
        hook, name = found
        audit.record(s, actor, "webhook.delete", str(hook.id), name, hook.url)
        s.delete(hook)
