"""Old job paths, kept for one release only: jobs already in Redis name their function by path.

Releases before the split of this module enqueued `workers.jobs.process_intake`,
`transcribe_intake`, `disguise_intake` and `release_at_twilio` by dotted name, and RQ keeps that
name with a queued, scheduled (a release re-check, a retry) or failed job. A worker of this
release must still run those after an upgrade. New jobs use the paths in `ivr.queueing`.
Remove this module one release after the split.
"""

from workers.intake import disguise_intake, process_intake
from workers.transcription import transcribe_intake
from workers.twilio_cleanup import release_at_twilio

__all__ = ["disguise_intake", "process_intake", "release_at_twilio", "transcribe_intake"]
