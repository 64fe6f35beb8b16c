"""Old job path, kept for one release only: `workers.forget.forget_call` jobs already in Redis.

Releases before `workers.twilio_cleanup` scheduled `forget_call` by this dotted name, up to
`ivr.queueing.FORGET_DELAY_S` ahead; a worker of this release must still run them after an
upgrade. New jobs use `ivr.queueing.FORGET_CALL`. Remove one release after the move.
"""

from workers.twilio_cleanup import forget_call

__all__ = ["forget_call"]
