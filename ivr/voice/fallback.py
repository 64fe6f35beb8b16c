"""The last resort: when anything failed, the caller can still record a report.

Used by the number's fallback URL and by a webhook that cannot read its call state. It leans
on as little as possible: no menu, anonymous by default (nothing identifies the caller), the
recording prompt in Russian and Kazakh, then the reference and PIN (or, if the report could be
kept nowhere, that no reference can be given now).
"""

from __future__ import annotations

import logging

from twilio.twiml.voice_response import VoiceResponse

from ivr.flow.engine import CallState
from ivr.services import Services

log = logging.getLogger(__name__)

FALLBACK_VERSION = "fallback"
FALLBACK_NODE = "fallback"

# Spoken when the flow itself cannot be read; the flow's own messages are used when it can.
RU_RECORD = (
    "Здравствуйте! Это телефон доверия 1424 Агентства по противодействию коррупции. "
    "После сигнала расскажите, что случилось. Когда закончите, нажмите решётку."
)
RU_THANKS = "Спасибо. Ваше сообщение принято."
RU_REFERENCE = "Номер обращения."
RU_PIN = "ПИН-код."
RU_GOODBYE = "Спасибо за звонок. До свидания."
RU_NO_REFERENCE = (
    "Ваше сообщение записано, мы его рассмотрим. Но номер обращения сейчас выдать не можем. "
    "Чтобы получить номер, позвоните позже."
)
RU_VOICE = ("Polly.Tatyana", "ru-RU")


def anonymous_state(svc: Services) -> CallState:
    """A fresh state for a call we know nothing about: anonymous. Its reference and PIN are drawn
    when the recording is filed, and never ride in a URL."""
    return CallState(flow_version=FALLBACK_VERSION, node=FALLBACK_NODE, is_anonymous=True)


def _base(svc: Services) -> str:
    return svc.settings.public_base_url or ""


def record_twiml(svc: Services, call_sid: str) -> str:
    """Greeting and recording prompt in Russian and Kazakh, then <Record>."""
    state = anonymous_state(svc)
    token = svc.call_states.seal(state, call_sid)
    response = VoiceResponse()
    _say_message(svc, response, "record_guidance", RU_RECORD, greeting=True)
    response.record(
        action=f"{_base(svc)}/voice/fallback/recorded?s={token}",
        method="POST",
        max_length=300,
        timeout=10,
        finish_on_key="#",
        play_beep=True,
        recording_status_callback=f"{_base(svc)}/voice/recording-status?s={token}",
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )
    # Nothing recorded: say goodbye politely rather than hang up in silence.
    response.say(RU_GOODBYE, voice=RU_VOICE[0], language=RU_VOICE[1])
    response.hangup()
    return str(response)


def thanks_twiml(svc: Services, state: CallState) -> str:
    """Thanks, the reference and the PIN digit by digit (twice), goodbye; no numbers if none were kept."""
    response = VoiceResponse()
    if state.reference and state.pin:
        response.say(RU_THANKS, voice=RU_VOICE[0], language=RU_VOICE[1])
        for _ in range(2):
            response.say(RU_REFERENCE, voice=RU_VOICE[0], language=RU_VOICE[1])
            response.say(", ".join(state.reference) + ".", voice=RU_VOICE[0], language=RU_VOICE[1])
            response.say(RU_PIN, voice=RU_VOICE[0], language=RU_VOICE[1])
            response.say(", ".join(state.pin) + ".", voice=RU_VOICE[0], language=RU_VOICE[1])
    else:
        _say_message(svc, response, "no_reference_now", RU_NO_REFERENCE, greeting=False)
    response.say(RU_GOODBYE, voice=RU_VOICE[0], language=RU_VOICE[1])
    response.hangup()
    return str(response)


def _say_message(svc: Services, response: VoiceResponse, key: str, russian: str, *, greeting: bool) -> None:
    """Russian from the flow (or the built-in text), then the Kazakh prompt audio if it exists."""
    base = _base(svc)
    try:
        flow = svc.flows.current
        if greeting:
            response.say(flow.message("welcome", "ru").text, voice=RU_VOICE[0], language=RU_VOICE[1])
        response.say(flow.message(key, "ru").text, voice=RU_VOICE[0], language=RU_VOICE[1])
        kk_dir = svc.settings.prompts_dir / "kk"
        if greeting and (kk_dir / "welcome.wav").is_file():
            response.play(f"{base}/voice/prompts/kk/welcome.wav")
        if (kk_dir / f"{key}.wav").is_file():
            response.play(f"{base}/voice/prompts/kk/{key}.wav")
    except Exception:
        log.exception("fallback.flow_unavailable")
        response.say(russian, voice=RU_VOICE[0], language=RU_VOICE[1])
