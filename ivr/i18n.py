"""The operator console's words in Russian, Kazakh and English, and how dates and times read.

One catalogue, keyed by a dotted name; every key has all three languages (a test checks).
Callers' prompts are not here: they live in config/flow.yaml, where admins edit them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

LOCALES = ("ru", "kk", "en")
DEFAULT_LOCALE = "ru"
LOCALE_NAMES = {"ru": "Русский", "kk": "Қазақша", "en": "English"}


def _zone() -> tzinfo:
    # Kazakhstan keeps one time zone, UTC+5, since 1 March 2024; zoneinfo knows it when tzdata is recent.
    try:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo("Asia/Almaty")
        if zone.utcoffset(datetime(2025, 1, 1)) == timedelta(hours=5):
            return zone
    except Exception:  # no tz database on this machine
        pass
    return timezone(timedelta(hours=5), "+05")


DISPLAY_ZONE = _zone()

# key: (ru, kk, en)
_CATALOGUE: dict[str, tuple[str, str, str]] = {
    "app.title": ("Телефон доверия 1424", "1424 сенім телефоны", "Hotline 1424"),
    "app.console": ("Консоль оператора", "Оператор консолі", "Operator console"),
    "app.skip": ("Перейти к содержанию", "Мазмұнға өту", "Skip to content"),
    "nav.queue": ("Очередь", "Кезек", "Queue"),
    "nav.overview": ("Статистика", "Статистика", "Overview"),
    "nav.audit": ("Журнал аудита", "Аудит журналы", "Audit log"),
    "nav.users": ("Пользователи", "Пайдаланушылар", "Users"),
    "nav.system": ("Состояние линии", "Желінің күйі", "Line status"),
    "nav.flows": ("Меню линии", "Желі мәзірі", "Menu flows"),
    "nav.sign_out": ("Выйти", "Шығу", "Sign out"),
    "nav.language": ("Язык", "Тіл", "Language"),
    # signing in
    "login.title": ("Вход в консоль", "Консольге кіру", "Sign in to the console"),
    "login.username": ("Имя пользователя", "Пайдаланушы аты", "Username"),
    "login.password": ("Пароль", "Құпиясөз", "Password"),
    "login.submit": ("Войти", "Кіру", "Sign in"),
    # One answer for a wrong password, an unknown name and a locked account (issue 10.9).
    "login.bad": (
        "Неверное имя пользователя или пароль. После нескольких неудачных попыток вход закрывается на 15 минут.",
        "Пайдаланушы аты немесе құпиясөз қате. Бірнеше сәтсіз әрекеттен кейін кіру 15 минутқа жабылады.",
        "Wrong username or password. After several failed attempts, signing in is closed for 15 minutes.",
    ),
    "login.disabled": (
        "Учётная запись отключена. Обратитесь к администратору.",
        "Есептік жазба өшірілген. Әкімшіге хабарласыңыз.",
        "This account is disabled. Please contact an administrator.",
    ),
    "login.signed_out": ("Вы вышли из системы.", "Сіз жүйеден шықтыңыз.", "You have signed out."),
    "login.required": (
        "Войдите, чтобы продолжить.",
        "Жалғастыру үшін жүйеге кіріңіз.",
        "Please sign in to continue.",
    ),
    "form.csrf": (
        "Форма устарела. Обновите страницу и повторите действие.",
        "Форманың мерзімі өтіп кетті. Бетті жаңартып, әрекетті қайталаңыз.",
        "The form has expired. Reload the page and try again.",
    ),
    "form.required": ("Обязательное поле.", "Міндетті өріс.", "This field is required."),
    "form.too_long": ("Слишком длинный текст.", "Мәтін тым ұзын.", "The text is too long."),
    "form.invalid_text": ("В тексте есть недопустимые символы.", "Мәтінде жарамсыз таңбалар бар.",
                          "The text holds characters that cannot be used."),
    # queue
    "queue.title": ("Очередь обращений", "Өтініштер кезегі", "Report queue"),
    "queue.waiting": ("Ожидают рассмотрения", "Қаралуын күтуде", "Waiting for review"),
    "queue.waiting_total": ("Всего ожидают: {count}", "Барлығы күтуде: {count}", "Waiting in total: {count}"),
    "queue.empty": ("Обращений нет.", "Өтініштер жоқ.", "No reports."),
    "queue.updated": ("Обновлено в {time}", "{time} жаңартылды", "Updated at {time}"),
    "queue.found": ("Найдено: {count}", "Табылды: {count}", "Found: {count}"),
    "col.reference": ("Номер", "Нөмірі", "Reference"),
    "col.received": ("Поступило", "Түскен уақыты", "Received"),
    "col.region": ("Регион", "Өңір", "Region"),
    "col.language": ("Язык", "Тілі", "Language"),
    "col.duration": ("Длительность", "Ұзақтығы", "Duration"),
    "col.transcript": ("Расшифровка", "Мәтін", "Transcript"),
    "col.caller": ("Заявитель", "Өтініш беруші", "Caller"),
    "col.status": ("Статус", "Мәртебесі", "Status"),
    "col.assignee": ("Исполнитель", "Орындаушы", "Assignee"),
    "col.category": ("Категория", "Санаты", "Category"),
    "filter.status": ("Статус", "Мәртебесі", "Status"),
    "filter.region": ("Регион", "Өңір", "Region"),
    "filter.language": ("Язык", "Тіл", "Language"),
    "filter.from": ("С даты", "Басталу күні", "From"),
    "filter.to": ("По дату", "Аяқталу күні", "To"),
    "filter.all": ("Все", "Барлығы", "All"),
    "filter.apply": ("Показать", "Көрсету", "Apply"),
    "filter.reset": ("Сбросить", "Тазарту", "Reset"),
    "filter.mine": ("Только мои", "Тек менікі", "Mine only"),
    "page.prev": ("← Назад", "← Алдыңғы", "← Previous"),
    "page.next": ("Вперёд →", "Келесі →", "Next →"),
    "page.of": ("Страница {page} из {pages}", "{pages} беттің {page}-беті", "Page {page} of {pages}"),
    # badges
    "badge.urgent": ("Срочно", "Шұғыл", "Urgent"),
    "badge.anonymous": ("Анонимно", "Жасырын", "Anonymous"),
    "badge.named": ("С контактом", "Байланыс қалдырды", "Named"),
    "badge.new_info": ("Есть дополнение", "Қосымшасы бар", "New information"),
    "badge.recovered": ("Восстановлено", "Қалпына келтірілген", "Recovered"),
    # statuses
    "status.new": ("Новое", "Жаңа", "New"),
    "status.in_review": ("На рассмотрении", "Қаралуда", "In review"),
    "status.forwarded": ("Передано в расследование", "Тергеуге жіберілді", "Forwarded to investigation"),
    "status.closed": ("Закрыто", "Жабылды", "Closed"),
    "status.open": ("Все незакрытые", "Жабылмағандардың бәрі", "All open"),
    "transcript.pending": ("Готовится", "Дайындалуда", "Pending"),
    "transcript.done": ("Готова", "Дайын", "Ready"),
    "transcript.failed": ("Ошибка", "Қате", "Failed"),
    "transcript.none": ("Отключена", "Өшірулі", "Off"),
    "verdict.reliable": ("Расшифровка надёжна", "Мәтін сенімді", "Transcript reliable"),
    "verdict.unreliable": ("Ненадёжно — прослушайте", "Сенімсіз — тыңдаңыз", "Unreliable — listen"),
    "verdict.no_speech": ("Нет речи — прослушайте", "Сөйлеу жоқ — тыңдаңыз", "No speech — listen"),
    "verdict.reason.no_speech": (
        "в записи почти нет речи",
        "жазбада сөйлеу жоқтың қасы",
        "almost no speech in the recording",
    ),
    "verdict.reason.text_without_speech": (
        "текст есть, а речи нет: модель его придумала",
        "сөйлеу жоқ, бірақ мәтін бар: модель ойдан шығарған",
        "text without speech: the model made it up",
    ),
    "verdict.reason.no_text": ("речь есть, а текста нет", "сөйлеу бар, бірақ мәтін жоқ", "speech but no text"),
    "verdict.reason.low_confidence": (
        "модель не уверена в тексте",
        "модель мәтінге сенімсіз",
        "the model is unsure of the text",
    ),
    "verdict.reason.repetition": ("текст повторяется по кругу", "мәтін қайталана береді", "the text repeats in a loop"),
    "verdict.reason.too_many_words": (
        "слов больше, чем можно сказать за это время",
        "сөз осы уақытта айтуға болатыннан көп",
        "more words than fit the speech",
    ),
    "verdict.reason.too_few_words": (
        "слов слишком мало для такой речи",
        "сөйлеуге қарағанда сөз тым аз",
        "too few words for the speech",
    ),
    "verdict.reason.language_mismatch": (
        "модель слышит другой язык",
        "модель басқа тілді естиді",
        "the model hears another language",
    ),
    "verdict.reason.truncated": (
        "расшифрована только часть",
        "тек бір бөлігі мәтінге түсті",
        "only part was transcribed",
    ),
    "language.kk": ("Казахский", "Қазақ тілі", "Kazakh"),
    "language.ru": ("Русский", "Орыс тілі", "Russian"),
    "language.en": ("Английский", "Ағылшын тілі", "English"),
    "language.unknown": ("Не выбран", "Таңдалмаған", "Not chosen"),
    "region.unknown": ("Не указан", "Көрсетілмеген", "Not given"),
    # case page
    "case.title": ("Обращение № {reference}", "№ {reference} өтініш", "Report no. {reference}"),
    "case.back": ("← К очереди", "← Кезекке", "← Back to the queue"),
    "case.recordings": ("Записи", "Жазбалар", "Recordings"),
    "case.report": ("Сообщение", "Хабарлама", "Report"),
    "case.followup": ("Дополнение {n}", "{n}-қосымша", "Follow-up {n}"),
    "case.recorded_at": ("Записано {time}", "Жазылған уақыты: {time}", "Recorded {time}"),
    "case.voice_disguised": (
        "Голос изменён для защиты заявителя.",
        "Өтініш берушіні қорғау үшін дауысы өзгертілген.",
        "The voice is disguised to protect the caller.",
    ),
    "case.voice_original": ("Оригинальный голос", "Түпнұсқа дауыс", "Original voice"),
    "case.hear_original": (
        "Прослушать оригинальный голос",
        "Түпнұсқа дауысты тыңдау",
        "Listen to the original voice",
    ),
    "case.hear_original_note": (
        "Это действие записывается в журнал аудита.",
        "Бұл әрекет аудит журналына жазылады.",
        "This action is recorded in the audit log.",
    ),
    "case.audio_missing": (
        "Запись ещё не сохранена.",
        "Жазба әлі сақталмаған.",
        "The recording has not been stored yet.",
    ),
    "case.audio_purged": (
        "Запись удалена по истечении срока хранения.",
        "Сақтау мерзімі өткендіктен жазба жойылды.",
        "The recording was deleted when its retention period ended.",
    ),
    "case.disguise_missing": (
        "Версия с изменённым голосом ещё не готова.",
        "Дауысы өзгертілген нұсқасы әлі дайын емес.",
        "The disguised version is not ready yet.",
    ),
    "case.transcript": ("Расшифровка", "Мәтіні", "Transcript"),
    "case.transcript_pending": (
        "Расшифровка готовится.",
        "Мәтін дайындалып жатыр.",
        "The transcript is being prepared.",
    ),
    "case.transcript_failed": (
        "Расшифровать запись не удалось. Прослушайте её.",
        "Жазбаны мәтінге түсіру мүмкін болмады. Оны тыңдап шығыңыз.",
        "The recording could not be transcribed. Please listen to it.",
    ),
    "case.transcript_hint": (
        "Нажмите на фрагмент, чтобы перейти к этому месту записи.",
        "Жазбаның сол тұсына өту үшін үзіндіні басыңыз.",
        "Click a segment to jump to that point in the recording.",
    ),
    "case.truncated": (
        "Расшифрована только часть записи.",
        "Жазбаның бір бөлігі ғана мәтінге түсірілді.",
        "Only part of the recording was transcribed.",
    ),
    "case.details": ("Сведения", "Мәліметтер", "Details"),
    "case.reference": ("Номер обращения", "Өтініш нөмірі", "Reference"),
    "case.anonymous_caller": (
        "Анонимное обращение: номер заявителя не сохраняется.",
        "Жасырын өтініш: өтініш берушінің нөмірі сақталмайды.",
        "Anonymous report: the caller's number is not kept.",
    ),
    "case.contact": ("Контакт заявителя", "Өтініш берушінің байланысы", "Caller's contact"),
    "case.show_contact": ("Показать контакт", "Байланысты көрсету", "Show contact"),
    "case.contact_note": (
        "Просмотр записывается в журнал аудита.",
        "Қарау аудит журналына жазылады.",
        "Viewing it is recorded in the audit log.",
    ),
    "case.contact_missing": ("Контакт не оставлен.", "Байланыс қалдырылмаған.", "No contact was left."),
    "case.unassigned": ("Не назначен", "Тағайындалмаған", "Unassigned"),
    "case.claim": ("Взять в работу", "Жұмысқа алу", "Take this case"),
    "case.assign": ("Назначить", "Тағайындау", "Assign"),
    "case.change_status": ("Изменить статус", "Мәртебесін өзгерту", "Change status"),
    "case.reason": ("Причина", "Себебі", "Reason"),
    "case.reason_required": (
        "Укажите причину закрытия.",
        "Жабу себебін көрсетіңіз.",
        "Give a reason for closing.",
    ),
    "case.bad_transition": (
        "Такой переход статуса невозможен.",
        "Мәртебені бұлай өзгертуге болмайды.",
        "That status change is not allowed.",
    ),
    "case.bad_assignee": (
        "Этому сотруднику нельзя назначить обращение из этого региона.",
        "Бұл қызметкерге осы өңірдің өтінішін тағайындауға болмайды.",
        "This person cannot be given a case from this region.",
    ),
    "case.save": ("Сохранить", "Сақтау", "Save"),
    "case.notes": ("Заметки", "Ескертпелер", "Notes"),
    "case.add_note": ("Добавить заметку", "Ескертпе қосу", "Add note"),
    "case.no_notes": ("Заметок пока нет.", "Әзірге ескертпе жоқ.", "No notes yet."),
    "case.reporter_message": ("Сообщение для заявителя", "Өтініш берушіге хабар", "Message for the caller"),
    "case.reporter_message_help": (
        "Короткий текст, который заявитель услышит, когда позвонит повторно с номером обращения и ПИН-кодом.",
        "Өтініш беруші өтініш нөмірі мен PIN-кодын айтып, қайта қоңырау шалғанда еститін қысқа мәтін.",
        "A short text the caller hears when calling back with the reference and PIN.",
    ),
    "case.audit": ("Журнал аудита по обращению", "Өтініштің аудит журналы", "Audit log of this report"),
    "case.saved": ("Сохранено.", "Сақталды.", "Saved."),
    "case.claimed": ("Обращение взято в работу.", "Өтініш жұмысқа алынды.", "You have taken this case."),
    "case.set_region": ("Изменить регион", "Өңірін өзгерту", "Change region"),
    "case.handled_in": ("Взято в работу через {wait}", "{wait} өткен соң жұмысқа алынды", "Taken after {wait}"),
    # closing reasons
    "reason.referred": (
        "Передано по подведомственности",
        "Қарауға тиісті органға жіберілді",
        "Referred to the competent authority",
    ),
    "reason.not_corruption": (
        "Не относится к коррупции",
        "Сыбайлас жемқорлыққа қатысы жоқ",
        "Not about corruption",
    ),
    "reason.duplicate": ("Повторное обращение", "Қайталанған өтініш", "Duplicate report"),
    "reason.insufficient": ("Недостаточно сведений", "Мәліметтер жеткіліксіз", "Not enough information"),
    "reason.inquiry_done": ("Проверка завершена", "Тексеру аяқталды", "Inquiry completed"),
    "reason.test_call": ("Тестовый или ошибочный звонок", "Сынақ немесе қате қоңырау", "Test or mistaken call"),
    # categories
    "category.none": ("Не указана", "Көрсетілмеген", "Not set"),
    "category.bribery": ("Взятка", "Пара", "Bribery"),
    "category.extortion": ("Вымогательство взятки", "Пара талап ету", "Demanding a bribe"),
    "category.abuse_of_office": (
        "Злоупотребление должностными полномочиями",
        "Лауазымдық өкілеттіктерді теріс пайдалану",
        "Abuse of office",
    ),
    "category.procurement": (
        "Нарушения в госзакупках",
        "Мемлекеттік сатып алудағы заң бұзушылықтар",
        "Public procurement",
    ),
    "category.embezzlement": (
        "Хищение бюджетных средств",
        "Бюджет қаражатын жымқыру",
        "Embezzlement of public funds",
    ),
    "category.conflict_of_interest": ("Конфликт интересов", "Мүдделер қақтығысы", "Conflict of interest"),
    "category.other": ("Другое", "Басқа", "Other"),
    # roles
    "role.operator": ("Оператор", "Оператор", "Operator"),
    "role.supervisor": ("Руководитель", "Жетекші", "Supervisor"),
    "role.admin": ("Администратор", "Әкімші", "Administrator"),
    # audit
    "audit.title": ("Журнал аудита", "Аудит журналы", "Audit log"),
    "audit.user": ("Действия: {name}", "{name}: әрекеттері", "Activity of {name}"),
    "audit.time": ("Время", "Уақыты", "Time"),
    "audit.actor": ("Кто", "Кім", "Who"),
    "audit.action": ("Действие", "Әрекет", "Action"),
    "audit.detail": ("Подробности", "Толығырақ", "Details"),
    "audit.case": ("Обращение", "Өтініш", "Report"),
    "audit.empty": ("Записей нет.", "Жазбалар жоқ.", "No entries."),
    "audit.system": ("система", "жүйе", "system"),
    "action.case.opened": ("Обращение открыто", "Өтініш ашылды", "Report opened"),
    "action.followup.verified": (
        "Заявитель позвонил повторно", "Өтініш беруші қайта қоңырау шалды", "Reporter called back"
    ),
    "action.followup.pin_failed": ("Неверный ПИН-код", "PIN-код қате", "Wrong PIN"),
    "action.followup.locked": ("Номер обращения заблокирован", "Өтініш нөмірі бұғатталды", "Reference locked"),
    "action.followup.refused_locked": (
        "Попытка при заблокированном номере", "Бұғатталған нөмірмен әрекет", "Attempt while locked"
    ),
    "action.followup.unknown_reference": (
        "Набран неизвестный номер обращения", "Белгісіз өтініш нөмірі терілді", "Unknown case number keyed in"),
    "action.followup.refused_capped": (
        "Проверка ПИН-кода закрыта до конца часа: слишком много ошибок на линии",
        "PIN-код тексеру сағат соңына дейін жабық: желіде қате тым көп",
        "PIN checks closed until the hour ends: too many failures on the line"),
    "action.followup.unlocked": (
        "Номер обращения разблокирован", "Өтініш нөмірі бұғаттан шығарылды", "Reference unlocked"
    ),
    "action.followup.pin_reissued": ("Выдан новый ПИН-код", "Жаңа PIN-код берілді", "New PIN issued"),
    "case.reference_locked": (
        "Номер заблокирован до {time}: слишком много неверных ПИН-кодов",
        "Нөмір {time} дейін бұғатталды: PIN-код тым көп рет қате терілді",
        "Reference locked until {time}: too many wrong PINs",
    ),
    "case.unlock_reference": ("Разблокировать номер", "Нөмірді бұғаттан шығару", "Unlock the reference"),
    "action.case.updated": ("Поступило дополнение", "Қосымша түсті", "Follow-up received"),
    "action.case.claimed": ("Взято в работу", "Жұмысқа алынды", "Taken"),
    "action.case.assigned": ("Назначен исполнитель", "Орындаушы тағайындалды", "Assigned"),
    "action.case.status_changed": ("Изменён статус", "Мәртебесі өзгертілді", "Status changed"),
    "action.case.category_changed": ("Изменена категория", "Санаты өзгертілді", "Category changed"),
    "action.case.region_changed": ("Изменён регион", "Өңірі өзгертілді", "Region changed"),
    "action.case.note_added": ("Добавлена заметка", "Ескертпе қосылды", "Note added"),
    "action.case.reporter_message_set": (
        "Записано сообщение для заявителя",
        "Өтініш берушіге хабар жазылды",
        "Message for the caller set",
    ),
    "action.case.viewed": ("Просмотр обращения", "Өтініш қаралды", "Report viewed"),
    "action.recording.deleted_at_twilio": ("Запись удалена у Twilio", "Жазба Twilio-дан жойылды", "Deleted at Twilio"),
    "action.call.deleted_at_twilio": (
        "Журнал звонка удалён у Twilio",
        "Қоңырау журналы Twilio-дан жойылды",
        "Call log deleted at Twilio",
    ),
    "action.intake.processed": ("Обработка завершена", "Өңдеу аяқталды", "Processing finished"),
    "action.intake.failed": ("Ошибка обработки", "Өңдеу қатесі", "Processing failed"),
    "action.operator.created": ("Создана учётная запись", "Есептік жазба құрылды", "Account created"),
    "action.operator.access_changed": ("Изменены права доступа", "Қол жеткізу құқықтары өзгертілді", "Access changed"),
    "action.operator.password_changed": ("Сменён пароль", "Құпиясөз ауыстырылды", "Password changed"),
    "action.operator.disabled": ("Учётная запись отключена", "Есептік жазба өшірілді", "Account disabled"),
    "action.operator.enabled": ("Учётная запись включена", "Есептік жазба қосылды", "Account enabled"),
    "action.operator.unlocked": ("Вход разблокирован", "Кіру бұғаттан шығарылды", "Account unlocked"),
    "action.api_token.issued": ("Выдан API-токен", "API-токен берілді", "API token issued"),
    "action.api_token.revoked": ("Отозван API-токен", "API-токен кері қайтарылды", "API token revoked"),
    "actor.voice": ("линия", "желі", "phone line"),
    "actor.worker": ("обработка", "өңдеу", "processing"),
    "actor.cli": ("консоль сервера", "сервер консолі", "server shell"),
    "actor.anonymous": ("неизвестный", "белгісіз", "unknown"),
    "audit.recording": ("запись {id}", "{id}-жазба", "recording {id}"),
    "call_status.completed": ("положил трубку", "тұтқаны қойды", "hung up"),
    "call_status.busy": ("занято", "бос емес", "busy"),
    "call_status.failed": ("сбой", "ақау", "failed"),
    "call_status.no-answer": ("без ответа", "жауапсыз", "no answer"),
    "call_status.canceled": ("отменён", "тоқтатылды", "canceled"),
    "action.recording.listened": ("Прослушивание записи", "Жазба тыңдалды", "Recording played"),
    "action.recording.original_unlocked": (
        "Открыт оригинальный голос",
        "Түпнұсқа дауыс ашылды",
        "Original voice unlocked",
    ),
    "action.contact.viewed": ("Просмотрен контакт заявителя", "Өтініш берушінің байланысы қаралды",
                              "Caller's contact viewed"),
    "action.operator.signed_in": ("Вход в систему", "Жүйеге кірді", "Signed in"),
    "action.operator.signed_out": ("Выход из системы", "Жүйеден шықты", "Signed out"),
    "action.operator.sign_in_failed": ("Неудачная попытка входа", "Сәтсіз кіру әрекеті", "Failed sign-in"),
    "action.operator.sign_in_refused": ("Вход отклонён", "Кіруге рұқсат берілмеді", "Sign-in refused"),
    "action.intake.recorded": ("Сообщение записано", "Хабарлама жазылды", "Report recorded"),
    "action.recording.stored": ("Запись сохранена", "Жазба сақталды", "Recording stored"),
    "action.transcript.created": ("Расшифровка готова", "Мәтін дайын", "Transcript ready"),
    "action.transcript.failed": ("Ошибка расшифровки", "Мәтінге түсіру қатесі", "Transcription failed"),
    "action.call.ended": ("Звонок завершён", "Қоңырау аяқталды", "Call ended"),
    # overview
    "overview.title": ("Статистика", "Статистика", "Overview"),
    "overview.days": ("За {days} дней", "Соңғы {days} күн", "Last {days} days"),
    "overview.per_day": ("Обращения по дням", "Күндер бойынша өтініштер", "Reports per day"),
    "overview.per_region": ("Обращения по регионам", "Өңірлер бойынша өтініштер", "Reports per region"),
    "overview.waiting": (
        "Ожидание до начала работы",
        "Жұмысқа алынғанға дейінгі күту",
        "Waiting before work starts",
    ),
    "overview.median": ("Медиана", "Медиана", "Median"),
    "overview.p90": ("90% обращений — не дольше", "Өтініштердің 90%-ы — ең көбі", "90% of reports within"),
    "overview.waiting_now": ("Сейчас ожидают", "Қазір күтуде", "Waiting now"),
    "overview.oldest": ("Дольше всех ждёт", "Ең ұзақ күтіп тұрғаны", "Longest wait now"),
    "overview.dropped": (
        "Где звонящие кладут трубку",
        "Қоңырау шалушылар тұтқаны қай жерде қояды",
        "Where callers hang up",
    ),
    "overview.dropped_help": (
        "Звонки без записанного сообщения — по последнему шагу меню.",
        "Хабарлама жазылмаған қоңыраулар — мәзірдің соңғы қадамы бойынша.",
        "Calls that left no report, by the last menu step reached.",
    ),
    "overview.no_data": ("Нет данных за этот период.", "Бұл кезеңде дерек жоқ.", "No data for this period."),
    "overview.total": ("Всего", "Барлығы", "Total"),
    "overview.total_reports": ("Обращений за период", "Кезеңдегі өтініштер", "Reports in the period"),
    "overview.dropped_count": (
        "Звонков без сообщения: {dropped} из {total}.",
        "Хабарламасыз қоңыраулар: {dropped} / {total}.",
        "Calls without a report: {dropped} of {total}.",
    ),
    "overview.step_unknown": ("шаг неизвестен", "қадамы белгісіз", "step unknown"),
    "unit.min": ("{n} мин", "{n} мин", "{n} min"),
    "unit.h": ("{n} ч", "{n} сағ", "{n} h"),
    "unit.h_min": ("{h} ч {m} мин", "{h} сағ {m} мин", "{h} h {m} min"),
    "unit.d": ("{n} дн.", "{n} күн", "{n} d"),
    # admin: users
    "users.title": ("Пользователи", "Пайдаланушылар", "Users"),
    "users.add": ("Новый пользователь", "Жаңа пайдаланушы", "New user"),
    "users.display_name": ("Имя", "Аты-жөні", "Name"),
    "users.role": ("Роль", "Рөлі", "Role"),
    "users.regions": ("Регионы", "Өңірлер", "Regions"),
    "users.all_regions": ("Все регионы", "Барлық өңір", "All regions"),
    "users.regions_help": (
        "Оператор видит обращения только выбранных регионов.",
        "Оператор тек таңдалған өңірлердің өтініштерін көреді.",
        "An operator sees the reports of the chosen regions only.",
    ),
    "users.locale": ("Язык интерфейса", "Интерфейс тілі", "Interface language"),
    "users.state": ("Состояние", "Күйі", "State"),
    "users.active": ("Активен", "Белсенді", "Active"),
    "users.disabled": ("Отключён", "Өшірілген", "Disabled"),
    "users.locked": ("Заблокирован до {time}", "{time} дейін бұғатталған", "Locked until {time}"),
    "users.last_login": ("Последний вход", "Соңғы кіру", "Last sign-in"),
    "users.never": ("ни разу", "кірмеген", "never"),
    "users.password": ("Пароль", "Құпиясөз", "Password"),
    "users.new_password": ("Новый пароль", "Жаңа құпиясөз", "New password"),
    "users.set_password": ("Сменить пароль", "Құпиясөзді ауыстыру", "Change password"),
    "users.password_rule": ("Не короче {n} символов.", "Кемінде {n} таңба.", "At least {n} characters."),
    "users.disable": ("Отключить", "Өшіру", "Disable"),
    "users.enable": ("Включить", "Қосу", "Enable"),
    "users.unlock": ("Разблокировать", "Бұғаттан шығару", "Unlock"),
    "users.create": ("Создать", "Құру", "Create"),
    "users.save": ("Сохранить", "Сақтау", "Save"),
    "users.token": ("Выдать API-токен", "API-токен беру", "Issue an API token"),
    "users.token_name": ("Для какой системы", "Қай жүйеге арналған", "For which system"),
    "users.token_issued": (
        "Токен показывается один раз — сохраните его сейчас:",
        "Токен бір рет қана көрсетіледі — оны қазір сақтап алыңыз:",
        "The token is shown only once. Keep it now:",
    ),
    "users.activity": ("Действия пользователя", "Пайдаланушы әрекеттері", "Activity"),
    "users.saved": ("Сохранено.", "Сақталды.", "Saved."),
    "users.created": ("Пользователь создан.", "Пайдаланушы құрылды.", "The user was created."),
    "users.error": ("Не удалось: {reason}", "Орындалмады: {reason}", "Not done: {reason}"),
    # admin: the line
    "system.title": ("Состояние линии", "Желінің күйі", "Line status"),
    "system.flow_version": ("Версия меню", "Мәзір нұсқасы", "Menu version"),
    "system.flow_ok": ("Файл меню корректен.", "Мәзір файлы дұрыс.", "The menu file is valid."),
    "system.flow_error": (
        "Последняя правка меню отклонена, работает прежняя версия:",
        "Мәзірдің соңғы түзетуі қабылданбады, алдыңғы нұсқасы жұмыс істеп тұр:",
        "The last menu edit was refused; the previous version keeps serving:",
    ),
    "system.pending": (
        "Записи, ещё не поставленные в очередь",
        "Кезекке әлі қойылмаған жазбалар",
        "Recordings not yet queued",
    ),
    "system.queue_depth": (
        "Задачи, ожидающие обработки",
        "Өңделуін күтіп тұрған тапсырмалар",
        "Jobs waiting for workers",
    ),
    "system.failed": (
        "Записи, которые не удалось обработать",
        "Өңделмей қалған жазбалар",
        "Recordings that failed processing",
    ),
    "system.unavailable": ("нет связи", "байланыс жоқ", "unavailable"),
    # errors
    "error.403": ("Доступ запрещён", "Кіруге рұқсат жоқ", "Access denied"),
    "error.404": ("Не найдено", "Табылмады", "Not found"),
    "error.back": ("Вернуться к очереди", "Кезекке оралу", "Back to the queue"),
}


def translate(key: str, locale: str, **params: Any) -> str:
    """The text of `key` in `locale` (Russian if the locale is unknown), with {params} filled in."""
    texts = _CATALOGUE.get(key)
    if texts is None:
        return key
    text = texts[LOCALES.index(locale) if locale in LOCALES else 0]
    return text.format(**params) if params else text


def has_key(key: str) -> bool:
    """Whether the catalogue holds `key`."""
    return key in _CATALOGUE


def catalogue() -> dict[str, tuple[str, str, str]]:
    """Every key and its texts (ru, kk, en), for tests."""
    return dict(_CATALOGUE)


def negotiate(accept_language: Any, preferred: str | None = None) -> str:
    """The console's language: the person's choice, else the browser's best match, else Russian."""
    if preferred in LOCALES:
        return preferred  # type: ignore[return-value]
    if accept_language is not None:
        match = accept_language.best_match(LOCALES)
        if match:
            return str(match)
    return DEFAULT_LOCALE


def local_time(moment: datetime | None) -> datetime | None:
    """A stored UTC time in Kazakhstan's time (SQLite returns naive UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(DISPLAY_ZONE)


def format_datetime(moment: datetime | None) -> str:
    """27.11.2026 14:05, in Kazakhstan's time; the same in every language."""
    local = local_time(moment)
    return local.strftime("%d.%m.%Y %H:%M") if local else "—"


def format_time(moment: datetime | None) -> str:
    """14:05:09 in Kazakhstan's time."""
    local = local_time(moment)
    return local.strftime("%H:%M:%S") if local else "—"


def format_duration(seconds: float | None) -> str:
    """m:ss for a recording's length."""
    if seconds is None:
        return "—"
    total = round(seconds)
    return f"{total // 60}:{total % 60:02d}"


def format_wait(seconds: float | None, locale: str) -> str:
    """A waiting time as people say it: 12 min, 3 h 5 min, 2 d."""
    if seconds is None:
        return "—"
    minutes = max(0, round(seconds / 60))
    if minutes < 60:
        return translate("unit.min", locale, n=minutes)
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return translate("unit.h_min", locale, h=hours, m=rest) if rest else translate("unit.h", locale, n=hours)
    return translate("unit.d", locale, n=round(hours / 24))
