"""Blueprint "voice": Twilio's webhooks under /voice.

`bp` is declared here and the view module (`routes`) imported at the bottom, as in every blueprint
package. What the rest of `ivr` needs of calls (the sealed call state) lives outside, in
`ivr.call_state`, so importing it never loads these views.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("voice", __name__)

from ivr.voice import routes  # noqa: E402, F401  (it registers its views on bp)
