"""Names for the codes the console shows by name: statuses, reasons, audit actions and the like.

Templates and views look these up at run time (`_("status." ~ case.status)`), so pybabel cannot read
them from the call; listing them here puts them in ivr/translations/messages.pot. A code shown
to people gets a line here (tests/operator/test_i18n.py checks the catalogues and the code tuples).
"""

from __future__ import annotations


def N_(key: str) -> str:
    """Mark `key` for extraction; translated where it is shown."""
    return key


CODE_NAMES = (
    # a form refused by the case rules (ivr.cases.casework: Invalid.code), shown as a flash message
    N_("form.invalid_text"),
    N_("form.too_long"),
    # a case's status (ivr.models.CASE_STATUSES): queue filters, case page, audit details
    N_("status.closed"),
    N_("status.forwarded"),
    N_("status.in_review"),
    N_("status.new"),
    # where a recording's transcription stands: queue column and case page
    N_("transcript.done"),
    N_("transcript.failed"),
    N_("transcript.pending"),
    # the speech check's verdict on a transcript: queue badge and case page
    N_("verdict.no_speech"),
    N_("verdict.unreliable"),
    # why a transcript is doubtful, listed after the verdict (lower case, joined with '; ')
    N_("verdict.reason.language_mismatch"),
    N_("verdict.reason.low_confidence"),
    N_("verdict.reason.no_speech"),
    N_("verdict.reason.no_text"),
    N_("verdict.reason.repetition"),
    N_("verdict.reason.text_without_speech"),
    N_("verdict.reason.too_few_words"),
    N_("verdict.reason.too_many_words"),
    N_("verdict.reason.truncated"),
    # a language's name in the language switcher and an account's language field
    N_("language.en"),
    N_("language.kk"),
    N_("language.ru"),
    # a problem or a result on the case page (recording not servable, a rule refused the change)
    N_("case.audio_missing"),
    N_("case.audio_purged"),
    N_("case.bad_assignee"),
    N_("case.bad_transition"),
    N_("case.claimed"),
    N_("case.contact"),
    N_("case.disguise_missing"),
    N_("case.reason_required"),
    # why a case was closed (ivr.cases.casework.CLOSE_REASONS)
    N_("reason.duplicate"),
    N_("reason.inquiry_done"),
    N_("reason.insufficient"),
    N_("reason.not_corruption"),
    N_("reason.referred"),
    N_("reason.test_call"),
    # what the report is about (ivr.cases.casework.CATEGORIES)
    N_("category.abuse_of_office"),
    N_("category.bribery"),
    N_("category.conflict_of_interest"),
    N_("category.embezzlement"),
    N_("category.extortion"),
    N_("category.other"),
    N_("category.procurement"),
    # how serious a finding of the flow check is, on the admin's flow pages (ivr.flow_checks.Finding)
    N_("admin.severity.error"),
    N_("admin.severity.warning"),
    # an account's role
    N_("role.admin"),
    N_("role.operator"),
    N_("role.supervisor"),
    # an audit event's action, as the audit log and the case history show it
    N_("action.api_token.issued"),
    N_("action.api_token.revoked"),
    N_("action.call.deleted_at_twilio"),
    N_("action.call.ended"),
    N_("action.case.assigned"),
    N_("action.case.category_changed"),
    N_("action.case.claimed"),
    N_("action.case.note_added"),
    N_("action.case.opened"),
    N_("action.case.region_changed"),
    N_("action.case.reporter_message_set"),
    N_("action.case.status_changed"),
    N_("action.case.updated"),
    N_("action.case.viewed"),
    N_("action.thread.message_sent"),
    N_("action.thread.voice_sent"),
    N_("thread.render_failed"),
    N_("thread.voice_too_big"),
    N_("thread.voice_format"),
    N_("thread.voice_too_short"),
    N_("thread.voice_too_long"),
    N_("action.contact.viewed"),
    N_("action.followup.locked"),
    N_("action.followup.pin_failed"),
    N_("action.followup.pin_reissued"),
    N_("action.followup.refused_capped"),
    N_("action.followup.refused_locked"),
    N_("action.followup.unknown_reference"),
    N_("action.followup.unlocked"),
    N_("action.followup.verified"),
    N_("action.intake.failed"),
    N_("action.intake.processed"),
    N_("action.intake.recorded"),
    N_("action.operator.access_changed"),
    N_("action.operator.created"),
    N_("action.operator.disabled"),
    N_("action.operator.enabled"),
    N_("action.operator.password_changed"),
    N_("action.operator.sign_in_failed"),
    N_("action.operator.sign_in_refused"),
    N_("action.operator.signed_in"),
    N_("action.operator.signed_out"),
    N_("action.operator.unlocked"),
    N_("action.recording.deleted_at_twilio"),
    N_("action.recording.fetched"),
    N_("action.recording.listened"),
    N_("action.recording.original_unlocked"),
    N_("action.recording.stored"),
    N_("action.transcript.created"),
    N_("action.transcript.failed"),
    N_("action.transcript.corrected"),
    # who did an audited thing when no operator did (lower case, inside a table cell)
    N_("actor.anonymous"),
    N_("actor.cli"),
    N_("actor.voice"),
    N_("actor.worker"),
    # how a call ended, in the overview's chart of dropped calls (lower case)
    N_("call_status.busy"),
    N_("call_status.canceled"),
    N_("call_status.completed"),
    N_("call_status.failed"),
    N_("call_status.no-answer"),
    # the overview's chart of dropped calls, when the menu step is not known (lower case)
    N_("overview.step_unknown"),
    # the queue's deadline filter (ivr.operator.searching.DEADLINE_STATES)
    N_("deadline_state.due_soon"),
    N_("deadline_state.ok"),
    N_("deadline_state.overdue"),
    # a search or a transcript correction refused (ivr.cases.search, ivr.cases.transcripts: Invalid.code)
    N_("search.too_many_saved"),
    N_("transcript.not_ready"),
    # the queue's transcript filter: no transcription on this line
    N_("transcript.none"),
    # a deadline rule's name (ivr.cases.deadlines.RULE_NAMES): queue column, case page, overview
    N_("deadline.acknowledge"),
    N_("deadline.answer"),
    N_("deadline.forward_crime"),
    N_("deadline.redirect"),
    # an error page's title
    N_("error.403"),
    N_("error.404"),
)
