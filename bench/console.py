"""The operator console at the scale of years: the queue, a search and a case page over a million reports.

`python -m bench.console [--cases 1000000] [--samples 200] [--database-url URL] [--keep]`, from the
repository root, against a PostgreSQL server (IVR_TEST_POSTGRES_URL by default, as the tests).

1424 takes about 20,000 reports a year, so a million is fifty years of them. The bench makes a
schema of its own, migrates it, and fills it in bulk with COPY: calls, recordings, cases (most of
them long closed, as years of work leave them), transcripts and notes encrypted with the data key
as the line stores them, their keyed search terms (ivr.search_terms) and an audit row per case.
Then it drives the real Flask app through its test client, signed in as a regional operator, and
times on the server side:

- the queue page (`/operator/`, open cases of the operator's region, oldest first);
- searches across every status, words through the blind index: a surname (`q=<surname>`, a few
  hundred matches), a common word (`q=взятка`, a fifth of all reports) and two common words
  together (`q=взятка деньги`);
- a case page (`/operator/cases/<id>`, decrypting its transcript and notes).

Beside each it times a bare indexed SELECT of the same rows (the cases the page shows, by primary
key) in the same run, and prints p50/p95 for both and the ratio of the p95s. The schema is dropped
at the end unless --keep. The figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import re
import secrets
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.machine import cpu_model
from ivr.cases.reference import damm_digit
from ivr.crypto import Cipher, text_context
from ivr.search_terms import TermKeys, stem, words

DEFAULT_URL = os.environ.get(
    "IVR_TEST_POSTGRES_URL", "postgresql+psycopg://ivr_test:ivr-test@127.0.0.1:5432/ivr_test"
)
REGIONS = [f"{n:02d}" for n in range(1, 21)]
CATEGORIES = ("bribery", "extortion", "abuse_of_office", "procurement", "embezzlement", "other")
OPEN_SHARE = 0.02  # open cases: the last weeks' reports; everything older is closed
NOTE_EVERY = 3  # one case in three has a note
SENTENCES = (
    "В акимате требовали деньги за справку о регистрации",
    "Инспектор дорожной полиции вымогал взятку на трассе",
    "Врач поликлиники просил оплату за направление на операцию",
    "Директор школы собирает деньги с родителей на ремонт",
    "В центре обслуживания населения требуют плату за очередь",
    "Сотрудник таможни брал конверт за пропуск груза",
    "Закупка проведена с нарушениями победила фирма родственника",
    "Начальник отдела назначил своего брата на должность",
    "Әкімдікте анықтама үшін ақша сұрады",
    "Жол полициясының қызметкері пара талап етті",
    "Ауруханада отаға жолдама үшін ақша алды",
    "The officer asked for cash to sign the permit",
    "Просили перевести деньги на карту знакомого",
    "Это было вчера вечером около шести часов",
    "Свидетели есть, могу назвать их имена",
    "Повторяю, сумма была пятьсот тысяч тенге",
)
ROOTS = ("Жанибек", "Толеген", "Ермек", "Нурлан", "Серик", "Болат", "Арман", "Даулет", "Кайрат", "Асхат",
         "Марат", "Руслан", "Талгат", "Бауыржан", "Ерлан", "Галым", "Мурат", "Санжар", "Алибек", "Ильяс")
PREFIXES = ("", "Аби", "Кара", "Ак", "Сары", "Кыз", "Жан", "Бек", "Нур", "Ер", "Ал", "Кул", "Тас", "Бай", "Шал",
            "Есен", "Тур", "Кен", "Сам", "Дос", "Ораз", "Аман", "Жума", "Сейт", "Кош")


def surnames() -> list[str]:
    """2,000 surnames (500 roots in four endings), so one names a few hundred of a million cases."""
    found = []
    for prefix in PREFIXES:
        for root in ROOTS:
            base = prefix + (root.lower() if prefix else root)
            found += [base + "ов", base + "ова", base + "ин", base + "улы"]
    return found


def reference_of(number: int) -> str:
    """A unique valid 8-digit reference per case number."""
    body = str(1_000_000 + number)
    return body + damm_digit(body)


@contextmanager
def bench_schema(url: str, keep: bool, reuse: str = "") -> Iterator[str]:
    """A schema of the bench's own (or `reuse`); the URL yielded searches it first. Dropped after unless `keep`."""
    schema = reuse or f"ivr_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url)
    if not reuse:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        if not keep:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        else:
            print(f"kept schema {schema}")
        admin.dispose()


# ---------------------------------------------------------------- filling


class Filler:
    """Writes `cases` reports with COPY, values pre-encrypted as the line's column types would."""

    def __init__(self, url: str, data_keys: dict[str, bytes], cases: int, seed: int = 1424) -> None:
        self.url = url
        self.cases = cases
        self.cipher = Cipher(data_keys)
        self.keys = TermKeys(data_keys)
        self.key_id = self.cipher.current_key_id
        self.random = random.Random(seed)
        self.surnames = surnames()
        self.now = datetime.now(UTC)
        self.operator_ids: list[int] = []
        self._term = lru_cache(maxsize=None)(lambda word: self.keys.term(stem(word)))

    def encrypt(self, table: str, column: str, text: str) -> bytes:
        return self.cipher.encrypt(text.encode(), context=text_context(table, column))

    def terms(self, text: str) -> set[int]:
        return {self._term(word) for word in words(text)}

    def created_at(self, number: int) -> datetime:
        """Case `number` of `cases`, spread evenly over the years up to now (the last is newest)."""
        span_s = self.cases / 20_000 * 365 * 86400
        return self.now - timedelta(seconds=span_s * (1 - number / self.cases) + 60)

    def text_for(self, number: int) -> tuple[str, str]:
        """A transcript and a note for a case (the note used for one case in NOTE_EVERY)."""
        pick = self.random.sample(SENTENCES, 3)
        name = self.surnames[number % len(self.surnames)]
        amount = self.random.randrange(10, 2000) * 1000
        transcript = f"{pick[0]}. Фамилия {name}. {pick[1]}, сумма {amount}. {pick[2]}."
        note = f"Проверить сведения о {name}, связаться с департаментом региона."
        return transcript, note

    def fill(self, progress: Callable[[str], None] = print) -> dict[str, float]:
        import psycopg

        timings: dict[str, float] = {}
        dsn = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
        started = time.perf_counter()
        with psycopg.connect(dsn) as conn:
            with conn.cursor() as cur:
                self.operator_ids = self._operators(cur)
                # Bulk load: the search index's primary key is built once after the rows are in.
                cur.execute("ALTER TABLE search_terms DROP CONSTRAINT pk_search_terms")
                cur.execute("DROP INDEX ix_search_terms_source")
            conn.commit()
            self._copy_all(conn, progress)
            timings["copy_s"] = time.perf_counter() - started
            with conn.cursor() as cur:
                progress("indexing the search terms")
                cur.execute("ALTER TABLE search_terms ADD CONSTRAINT pk_search_terms "
                            "PRIMARY KEY (term, case_id, source, source_id)")
                cur.execute("CREATE INDEX ix_search_terms_source ON search_terms (source, source_id)")
                for table in ("calls", "intakes", "cases", "transcripts", "case_notes", "stored_recordings",
                              "audit_events"):
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"(SELECT coalesce(max(id), 1) FROM {table}))")
            conn.commit()
            conn.autocommit = True
            with conn.cursor() as cur:
                progress("VACUUM ANALYZE")
                cur.execute("VACUUM ANALYZE")
        timings["fill_s"] = time.perf_counter() - started
        return timings

    def _operators(self, cur: Any) -> list[int]:
        from ivr.accounts import hash_password

        password = hash_password("bench password of the console 1424")
        ids = []
        for index, region in enumerate(REGIONS):
            cur.execute(
                "INSERT INTO operators (username, display_name, role, region_codes, password_hash, locale, "
                "is_active, failed_logins, session_version, created_at, updated_at) "
                "VALUES (%s, %s, 'operator', %s, %s, 'ru', true, 0, 1, now(), now()) RETURNING id",
                (f"op{index:02d}", f"Оператор {region}", json.dumps([region]), password),
            )
            ids.append(cur.fetchone()[0])
        return ids

    def _copy_all(self, conn: Any, progress: Callable[[str], None]) -> None:
        batch = 50_000
        segments = self.encrypt("transcripts", "segments", "[]")
        for start in range(0, self.cases, batch):
            stop = min(start + batch, self.cases)
            calls, intakes, cases, stored, transcripts, notes, terms, audits = ([] for _ in range(8))
            for number in range(start, stop):
                ident = number + 1
                created = self.created_at(number)
                region = REGIONS[number % len(REGIONS)]
                reference = reference_of(ident)
                is_open = number >= self.cases * (1 - OPEN_SHARE)
                is_urgent = self.random.random() < 0.01
                language = "kk" if number % 3 == 0 else "ru"
                status = self.random.choice(("new", "in_review")) if is_open else "closed"
                assignee = None if status == "new" else self.operator_ids[number % len(REGIONS)]
                calls.append((ident, f"CA{ident:032x}", "public", "bench", language, True, is_urgent, region,
                              reference, 0, "completed", False, created))
                intakes.append((ident, f"RE{ident:032x}", ident, "report", f"CA{ident:032x}", "done", True, 60,
                                1, created, created))
                cases.append((ident, ident, reference, status, is_urgent, region, language, True, False, False,
                               "done", self.random.choice(CATEGORIES), assignee, created, created))
                stored.append((ident, ident, f"intake-{ident}/original.wav", f"intake-{ident}/disguised.wav",
                               self.key_id, "0" * 64, 960_000, 60.0, created))
                transcript, note = self.text_for(number)
                confidence = round(self.random.uniform(0.4, 0.95), 3)
                verdict = "unreliable" if confidence < 0.55 else "reliable"
                transcripts.append((ident, ident, "done", language, self.encrypt("transcripts", "text", transcript),
                                    segments, confidence, "faster-whisper", "whisper-base", False, verdict,
                                    json.dumps(["low_confidence"] if verdict == "unreliable" else []), 1, 1,
                                    created, created))
                terms += [(term, ident, "t", ident, self.key_id) for term in self.terms(transcript)]
                if number % NOTE_EVERY == 0:
                    note_id = number // NOTE_EVERY + 1
                    notes.append((note_id, ident, self.operator_ids[number % len(REGIONS)],
                                  self.encrypt("case_notes", "text", note), created))
                    terms += [(term, ident, "n", note_id, self.key_id) for term in self.terms(note)]
                audits.append((ident, created, "worker", "case.opened", ident, ident,
                               json.dumps({"case_id": ident})))
            self._copy(conn, "calls", ("id", "call_sid", "flow_name", "flow_version", "language", "is_anonymous",
                                       "is_urgent", "region_code", "reference", "pin_failures", "status",
                                       "is_recovered", "started_at"), calls)
            self._copy(conn, "intakes", ("id", "recording_sid", "call_id", "kind", "source_call_sid", "status",
                                         "is_ready", "duration_s", "attempts", "created_at", "updated_at"), intakes)
            self._copy(conn, "cases", ("id", "call_id", "reference", "status", "is_urgent", "region_code",
                                       "language", "is_anonymous", "has_new_info", "is_recovered",
                                       "transcript_status", "category", "assignee_id", "created_at",
                                       "updated_at"), cases)
            self._copy(conn, "stored_recordings", ("id", "intake_id", "storage_key", "disguised_key", "key_id",
                                                   "sha256", "size", "duration_s", "stored_at"), stored)
            self._copy(conn, "transcripts", ("id", "intake_id", "status", "language", "text", "segments",
                                             "confidence", "engine", "model", "is_truncated", "verdict",
                                             "verdict_reasons", "attempts", "version", "created_at", "updated_at"),
                       transcripts)
            self._copy(conn, "case_notes", ("id", "case_id", "operator_id", "text", "created_at"), notes)
            self._copy(conn, "search_terms", ("term", "case_id", "source", "source_id", "key_id"), terms)
            self._copy(conn, "audit_events", ("id", "at", "actor", "action", "call_id", "intake_id", "detail"),
                       audits)
            conn.commit()
            progress(f"{stop:,} cases")

    @staticmethod
    def _copy(conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


# ---------------------------------------------------------------- measuring


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ROW = re.compile(r'data-case="(\d+)"')


def measure(url: str, data_key: str, cases: int, samples: int, surnames_: list[str]) -> dict[str, Any]:
    """p50/p95 of the three pages and of bare SELECTs of the same rows, in ms."""
    from ivr.app import create_app
    from ivr.settings import Settings

    settings = Settings(
        database_url=url, redis_url="redis://127.0.0.1:1/0", twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="bench-token-" + "0" * 20, public_base_url="http://localhost",
        secret_key="bench-secret-of-32-bytes-or-more-0123", data_key=data_key, data_key_id="bench",
        transcriber="none",
    )
    app = create_app(settings)
    app.config["TESTING"] = True
    client = app.test_client()
    token = CSRF.search(client.get("/operator/login").get_data(as_text=True))
    assert token is not None
    answer = client.post("/operator/login", data={"username": "op01", "password": "bench password of the console 1424",
                                                  "csrf_token": token.group(1)})
    assert answer.status_code == 302, answer.status_code
    raw = sa.create_engine(url)
    rng = random.Random(7)
    region_cases = [n + 1 for n in range(1, cases, len(REGIONS))]  # region 02: op01's
    pages = ("queue", "search", "search_common", "search_two_words", "case")
    timings: dict[str, list[float]] = {name: [] for page in pages for name in (page, f"{page}_select")}
    shown: dict[str, int] = {}

    def timed(path: str, **query: str) -> tuple[float, list[int], str]:
        started = time.perf_counter()
        response = client.get(path, query_string=query)
        elapsed = time.perf_counter() - started
        body = response.get_data(as_text=True)
        assert response.status_code == 200, (path, response.status_code)
        return elapsed, [int(i) for i in ROW.findall(body)], body

    def bare(ids: list[int]) -> float:
        with raw.connect() as conn:
            started = time.perf_counter()
            conn.execute(sa.text("SELECT * FROM cases WHERE id = ANY(:ids)"), {"ids": ids}).all()
            return time.perf_counter() - started

    for round_number in range(samples + 5):  # the first five warm caches and connections
        warm = round_number < 5
        elapsed, ids, _ = timed("/operator/")
        select_s = bare(ids)
        if not warm:
            timings["queue"].append(elapsed)
            timings["queue_select"].append(select_s)
            shown["queue_rows"] = len(ids)
        name = surnames_[(1 + round_number * len(REGIONS)) % len(surnames_)]
        elapsed, ids, _ = timed("/operator/", status="", q=name)
        select_s = bare(ids)
        if not warm:
            timings["search"].append(elapsed)
            timings["search_select"].append(select_s)
            shown["search_rows_last"] = len(ids)
        # A common word: "взятку" is in one sentence of sixteen, a transcript has three: ~19% of cases.
        elapsed, ids, _ = timed("/operator/", status="", q="взятка")
        select_s = bare(ids)
        if not warm:
            timings["search_common"].append(elapsed)
            timings["search_common_select"].append(select_s)
        # Two common words together ("деньги" is in three sentences of sixteen): a few % of cases hold both.
        elapsed, ids, _ = timed("/operator/", status="", q="взятка деньги")
        select_s = bare(ids)
        if not warm:
            timings["search_two_words"].append(elapsed)
            timings["search_two_words_select"].append(select_s)
        case_id = rng.choice(region_cases)
        elapsed, _, body = timed(f"/operator/cases/{case_id}")
        assert "Фамилия" in body  # the transcript was decrypted and shown
        select_s = bare([case_id])
        if not warm:
            timings["case"].append(elapsed)
            timings["case_select"].append(select_s)
    raw.dispose()
    app.extensions["ivr"].close()
    result: dict[str, Any] = {"samples": samples, **shown}
    for name, values in timings.items():
        result[name] = {"p50_ms": round(statistics.median(values) * 1000, 2),
                        "p95_ms": round(percentile(values, 0.95) * 1000, 2)}
    for page in pages:
        result[page]["ratio_p95_to_select"] = round(result[page]["p95_ms"] / result[f"{page}_select"]["p95_ms"], 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL database (a schema is made in it)")
    parser.add_argument("--keep", action="store_true", help="keep the filled schema (its name is printed)")
    parser.add_argument("--data-key", default="", help="base64 data key (default: a fresh one; --reuse needs it)")
    parser.add_argument("--reuse", default="", metavar="SCHEMA",
                        help="measure a schema an earlier --keep run filled (with its --data-key and --cases)")
    args = parser.parse_args()
    from ivr.migrations import upgrade

    data_key = args.data_key or base64.b64encode(secrets.token_bytes(32)).decode()
    data_keys = {"bench": base64.b64decode(data_key)}
    with bench_schema(args.database_url, args.keep or bool(args.reuse), reuse=args.reuse) as url:
        upgrade(url, data_keys=data_keys)
        filler = Filler(url, data_keys, args.cases)
        if args.reuse:
            fill = {"fill_s": 0.0}
        else:
            if args.keep:
                print(f"data key {data_key}")
            fill = filler.fill(progress=lambda line: print(f"{time.strftime('%H:%M:%S')} {line}", flush=True))
        with sa.create_engine(url).connect() as conn:
            sizes = {row[0]: row[1] for row in conn.execute(sa.text(
                "SELECT relname, pg_size_pretty(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                "AND relname IN ('cases', 'transcripts', 'case_notes', 'search_terms')"))}
            term_rows = conn.execute(sa.text("SELECT count(*) FROM search_terms")).scalar()
        figures = measure(url, data_key, args.cases, args.samples, filler.surnames)
    print(json.dumps({
        "cases": args.cases, "search_term_rows": term_rows, "sizes": sizes,
        "fill_s": round(fill["fill_s"], 1), "cpu": cpu_model(), "cores": os.cpu_count(),
        "python": platform.python_version(), **figures,
    }, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
