"""WTForms classes of the portal. They check shape only; business rules stay in shared."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    Field,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from services.admin.formatting import size_for_input
from shared.config import parse_size
from shared.mail.message_log import STATUSES
from shared.mail.sender_lists import MAX_SENDER_CHARS
from shared.mail.webhooks import EVENTS, MAX_URL

POLICY_CHOICES = [
    SelectChoice("anyone", _l("Anyone")),
    SelectChoice("domain", _l("Senders of the same domain")),
    SelectChoice("members", _l("Members only")),
]
MAX_ADDRESS = 320


class SizeField(StringField):
    """A byte size typed as 500M, 2G or plain bytes; blank gives None."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = (valuelist[0] if valuelist else "").strip()
        if not text:
            self.data = None
            return
        try:
            self.data = parse_size(text)
        except ValueError as exc:
            self.data = None
            raise ValueError(_l("Enter a size such as 500M or 2G.")) from exc

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else size_for_input(self.data)


class CheckboxListField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def lines_of(text: str | None) -> list[str]:
    """Addresses typed one per line or separated by commas."""
    return [part.strip() for part in (text or "").replace(",", "\n").splitlines() if part.strip()]


def limit_field(label: Any) -> IntegerField:
    return IntegerField(label, default=0, validators=[InputRequired(), NumberRange(min=0, max=10_000_000)])


def future_date(_form: FlaskForm, field: Field) -> None:
    if field.data is not None and field.data <= date.today():
        raise ValidationError(_l("The expiry date must be in the future."))


def typed_or_generated(form: FlaskForm, field: Field) -> None:
    """A password field may stay blank only when the form's generate box is ticked."""
    if field.data:
        return
    if form.generate_password.data:
        raise StopValidation()
    raise StopValidation(_l("Type a password or let one be generated."))


class LoginForm(FlaskForm):
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=MAX_ADDRESS)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class SecondFactorForm(FlaskForm):
    code = StringField(_l("Code from your app, or a recovery code"), validators=[DataRequired(), Length(max=32)])


class TotpConfirmForm(FlaskForm):
    code = StringField(_l("Code shown by the app"), validators=[DataRequired(), Length(max=32)])


class RecoveryAddressForm(FlaskForm):
    recovery_address = StringField(
        _l("Recovery address (elsewhere, for password reset links; empty = none)"), validators=[Length(max=MAX_ADDRESS)]
    )


class ForgotPasswordForm(FlaskForm):
    address = StringField(_l("Your mail address"), validators=[DataRequired(), Length(max=MAX_ADDRESS)])


class NewPasswordForm(FlaskForm):
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024)])
    repeat_password = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The two passwords differ."))],
    )


class DomainForm(FlaskForm):
    name = StringField(_l("Domain name"), validators=[DataRequired(), Length(max=255)])
    max_mailboxes = limit_field(_l("Max mailboxes (0 = no limit)"))
    max_aliases = limit_field(_l("Max aliases (0 = no limit)"))
    quota = SizeField(_l("Total storage cap (0 = no limit)"), default=0, validators=[InputRequired()])
    default_mailbox_quota = SizeField(_l("Default mailbox quota (0 = no limit)"), default=0, validators=[InputRequired()])


class DomainEditForm(DomainForm):
    name = None  # type: ignore[assignment]
    active = BooleanField(_l("Active (receives and sends mail)"))
    inbound_checks = BooleanField(_l("Check incoming mail (SPF, DKIM, DMARC, blocklists, spam filter)"))
    require_2fa = BooleanField(_l("Users must sign in with a second factor (they set one up at their next sign-in)"))
    forbid_external_forwarding = BooleanField(_l("Mailboxes may forward only to domains hosted here"))


class SenderListingForm(FlaskForm):
    sender = StringField(
        _l("Sender (address or whole domain)"), validators=[DataRequired(), Length(max=MAX_SENDER_CHARS)]
    )
    listing = RadioField(
        _l("Listing"),
        choices=[SelectChoice("allow", _l("Allow: the spam filter never sends it to Junk")),
                 SelectChoice("block", _l("Block: its mail is refused"))],
        default="allow",
        validators=[InputRequired()],
    )


class AliasDomainForm(FlaskForm):
    alias_name = StringField(_l("Alias domain"), validators=[DataRequired(), Length(max=255)])


class ConfirmDeleteForm(FlaskForm):
    confirmation = StringField(_l("Type the name to confirm"), validators=[DataRequired()])

    def check_name(self, expected: str) -> bool:
        if self.confirmation.data.strip().lower() != expected.lower():
            self.confirmation.errors = [_l("The name you typed does not match.")]
            return False
        return True


class MailboxCreateForm(FlaskForm):
    local = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    domain = SelectField(_l("Domain"), validators=[DataRequired()])
    name = StringField(_l("Display name"), validators=[Length(max=255)])
    password = PasswordField(_l("Password"), validators=[typed_or_generated, Length(max=1024)])
    generate_password = BooleanField(_l("Generate a password and show it once"))
    quota = SizeField(_l("Quota (blank = domain default, 0 = no limit)"), validators=[Optional()])


class MailboxEditForm(FlaskForm):
    name = StringField(_l("Display name"), validators=[Length(max=255)])
    quota = SizeField(_l("Quota (0 = no limit)"), validators=[InputRequired()])
    active = BooleanField(_l("Active"))
    smtp_enabled = BooleanField(_l("May send (SMTP)"))
    pop3_enabled = BooleanField(_l("May collect (POP3)"))
    imap_enabled = BooleanField(_l("May read on every device (IMAP)"))
    is_global_admin = BooleanField(_l("Global admin"))
    managed_domains = CheckboxListField(_l("Manages these domains"), choices=[])


class PasswordResetForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[typed_or_generated, Length(max=1024)])
    generate_password = BooleanField(_l("Generate a password and show it once"))
    sign_out = BooleanField(_l("Sign out all its portal sessions"))


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=MAX_ADDRESS)])
    domain = SelectField(_l("Domain"), validators=[Optional()])


class AliasEditForm(FlaskForm):
    destinations = TextAreaField(_l("Deliver to (one address per line)"), validators=[DataRequired()])


class AliasForm(AliasEditForm):
    local = StringField(_l("Address (blank = catch-all for the domain)"), validators=[Length(max=64)])
    domain = SelectField(_l("Domain"), validators=[DataRequired()])


class GroupEditForm(FlaskForm):
    members = TextAreaField(_l("Members (one address per line)"), validators=[DataRequired()])
    policy = SelectField(
        _l("Who may write to the group"),
        choices=POLICY_CHOICES,
        default="anyone",
    )


class GroupForm(GroupEditForm):
    local = StringField(_l("Group address"), validators=[DataRequired(), Length(max=64)])
    domain = SelectField(_l("Domain"), validators=[DataRequired()])


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    domain = SelectField(_l("Domain"), validators=[Optional()])
    actor = StringField(_l("Changed by"), validators=[Optional(), Length(max=MAX_ADDRESS)])
    action = StringField(_l("Action"), validators=[Optional(), Length(max=64)])
    text = StringField(_l("Target or detail contains"), validators=[Optional(), Length(max=MAX_ADDRESS)])


class ImportForm(FlaskForm):
    csv_file = FileField(_l("CSV file"), validators=[FileRequired()])


class ImportConfirmForm(FlaskForm):
    csv_text = TextAreaField(validators=[DataRequired(), Length(max=4 * 1024 * 1024)])


class OwnPasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024)])
    repeat_password = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The two passwords differ."))],
    )


class ForwardingForm(FlaskForm):
    destinations = TextAreaField(
        _l("Forward to (one address per line; empty = no forwarding)"), validators=[Length(max=64 * 1024)]
    )
    keep_copy = BooleanField(_l("Keep a copy in my mailbox"), default=True)


class MailboxForwardingForm(ForwardingForm):
    keep_copy = BooleanField(_l("Keep a copy in the mailbox"), default=True)


def not_before_start(form: FlaskForm, field: Field) -> None:
    if field.data is not None and form.starts_on.data is not None and field.data < form.starts_on.data:
        raise ValidationError(_l("The last day must not come before the first."))


class OutOfOfficeForm(FlaskForm):
    enabled = BooleanField(_l("Reply automatically while I am away"))
    subject = StringField(_l("Subject (empty = \"Auto:\" and the original subject)"), validators=[Length(max=255)])
    text = TextAreaField(_l("Reply text"), validators=[Length(max=10_000)])
    starts_on = DateField(_l("From (optional)"), validators=[Optional()])
    ends_on = DateField(_l("Until, inclusive (optional)"), validators=[Optional(), not_before_start])


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    domains = CheckboxListField(_l("Domains (none ticked = all you manage)"), choices=[])
    access = RadioField(
        _l("Access"),
        choices=[
            SelectChoice("read", _l("Read only")),
            SelectChoice("write", _l("Read and write")),
            SelectChoice("send", _l("Send mail")),
        ],
        default="read",
        validators=[DataRequired()],
    )
    expires = DateField(_l("Expires on (optional)"), validators=[Optional(), future_date])


class AppPasswordForm(FlaskForm):
    name = StringField(_l("Name (the device or program it is for)"), validators=[DataRequired(), Length(max=120)])
    protocols = CheckboxListField(
        _l("May log in to (none ticked = all three)"),
        choices=[SelectChoice("smtp", _l("SMTP (sending)")), SelectChoice("pop3", "POP3"), SelectChoice("imap", "IMAP")],
    )
    expires = IntegerField(_l("Expires after days (optional)"), validators=[Optional(), NumberRange(min=1, max=36500)])


class LiftLockForm(FlaskForm):
    account = StringField(validators=[DataRequired(), Length(max=MAX_ADDRESS)])
    client_ip = StringField(validators=[DataRequired(), Length(max=45)])


class MessageLogFilterForm(FlaskForm):
    class Meta:
        csrf = False

    sender = StringField(_l("Sender"), validators=[Optional(), Length(max=MAX_ADDRESS)])
    recipient = StringField(_l("Recipient"), validators=[Optional(), Length(max=MAX_ADDRESS)])
    message_id = StringField(_l("Message-ID"), validators=[Optional(), Length(max=500)])
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("Any status")), *(SelectChoice(status, status) for status in STATUSES)],
        validators=[Optional()],
    )
    since = DateField(_l("From day"), validators=[Optional()])
    until = DateField(_l("To day"), validators=[Optional()])


class SuppressionFilterForm(FlaskForm):
    class Meta:
        csrf = False

    domain = SelectField(_l("Domain"), validators=[Optional()])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=MAX_ADDRESS)])


class QueueActionForm(FlaskForm):
    """The confirm step of retry and bounce: only the CSRF token."""


class WebhookForm(FlaskForm):
    domain = SelectField(_l("Domain"), choices=[], validators=[DataRequired()])
    url = StringField(_l("URL (https://…)"), validators=[DataRequired(), Length(max=MAX_URL)])
    events = CheckboxListField(
        _l("Events"),
        choices=[SelectChoice(event, event) for event in EVENTS],
        default=list(EVENTS),
        validators=[DataRequired(_l("Choose at least one event."))],
    )
