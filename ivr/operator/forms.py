"""The console's forms (Flask-WTF): every one carries a CSRF token, checked on every POST."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ivr.cases.casework import NOTE_MAX_CHARS, REPORTER_MESSAGE_MAX_CHARS
from ivr.cases.search import NAME_MAX_CHARS
from ivr.cases.transcripts import TRANSCRIPT_MAX_CHARS


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(validators=[DataRequired(), Length(max=64)])
    password = PasswordField(validators=[DataRequired(), Length(max=1024)])


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class StatusForm(FlaskForm):
    """A new status; the reason when closing (and the case it duplicates); the receiving body when forwarding."""

    status = SelectField(validate_choice=False)
    reason = SelectField(validate_choice=False, validators=[Optional()])
    recipient = SelectField(validate_choice=False, validators=[Optional()])
    include_identity = BooleanField(validators=[Optional()])
    duplicate_of = SelectField(validate_choice=False, validators=[Optional()])


class LinkForm(FlaskForm):
    """Another case's reference, and how it relates (duplicate or related)."""

    other = StringField(validators=[DataRequired(), Length(max=16)])
    kind = SelectField(validate_choice=False)


class InvestigationForm(FlaskForm):
    """Whether a receiving body opened an investigation ("1" or "0")."""

    opened = SelectField(validate_choice=False)


class AuthorshipForm(FlaskForm):
    """A case reference and its PIN, as the reporter gives them to a supervisor."""

    reference = StringField(validators=[DataRequired(), Length(max=32)])
    pin = PasswordField(validators=[DataRequired(), Length(max=32)])


class AssignForm(FlaskForm):
    """Who works on the case ("" for nobody)."""

    assignee = SelectField(validate_choice=False)


class CategoryForm(FlaskForm):
    """What kind of report this is."""

    category = SelectField(validate_choice=False)


class RegionForm(FlaskForm):
    """Where the report belongs."""

    region = SelectField(validate_choice=False)


class NoteForm(FlaskForm):
    """A note on the case."""

    text = TextAreaField(validators=[DataRequired(), Length(max=NOTE_MAX_CHARS)])


class ReporterMessageForm(FlaskForm):
    """The short message the caller hears on calling back."""

    text = TextAreaField(validators=[Length(max=REPORTER_MESSAGE_MAX_CHARS)])


class TranscriptForm(FlaskForm):
    """An operator's corrected transcript."""

    text = TextAreaField(validators=[DataRequired(), Length(max=TRANSCRIPT_MAX_CHARS)])


class SavedFilterForm(FlaskForm):
    """A name for the queue's current search (the search itself rides in a hidden field)."""

    name = StringField(validators=[DataRequired(), Length(max=NAME_MAX_CHARS)])


class LocaleForm(FlaskForm):
    """The console's language."""

    locale = SelectField(validate_choice=False)


class UserForm(FlaskForm):
    """An account's name, role, regions and language (the password only when creating)."""

    username = StringField(validators=[Optional(), Length(max=64)])
    display_name = StringField(validators=[Optional(), Length(max=128)])
    role = SelectField(validate_choice=False)
    regions = SelectMultipleField(validate_choice=False)
    locale = SelectField(validate_choice=False)
    password = PasswordField(validators=[Optional(), Length(max=1024)])


class PasswordForm(FlaskForm):
    """A new password for an account."""

    password = PasswordField(validators=[DataRequired(), Length(max=1024)])


class TokenForm(FlaskForm):
    """An API token's purpose."""

    name = StringField(validators=[DataRequired(), Length(max=64)])
