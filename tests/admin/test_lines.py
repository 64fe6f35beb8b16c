"""Several lines: the dialled number picks the flow, each flow reloads on its own, unknown numbers get the default."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from ivr.flow.catalog import FlowCatalog, lines_path_for, load_lines, parse_lines
from ivr.flow.problems import FlowError
from ivr.models import Call
from tests.admin.conftest import BUSINESS_NUMBER, FLOW, PUBLIC_NUMBER, edit
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL
from tests.support.twilio_sim import FlaskTransport, Press, Talk, TwilioSimulator

PUBLIC_WELCOME = "Здравствуйте! Телефон доверия."
BUSINESS_WELCOME = "Здравствуйте! Это линия 1424 для предпринимателей."


def reload_errors() -> float:
    return REGISTRY.get_sample_value("ivr_flow_reload_errors_total") or 0.0


@pytest.fixture
def line_app(two_lines: Path, make_settings, database_url: str):  # type: ignore[no-untyped-def]
    from ivr.app import create_app

    app = create_app(make_settings(database_url=database_url, flow_path=two_lines / "flow.yaml",
                                   flow_check_interval_s=0))
    yield app
    app.extensions["ivr"].close()


@pytest.fixture
def sim(line_app):  # type: ignore[no-untyped-def]
    return TwilioSimulator(FlaskTransport(line_app.test_client()), auth_token=AUTH_TOKEN,
                           public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID)


def test_each_number_gets_its_lines_flow_and_unknown_numbers_the_default(line_app, sim) -> None:  # type: ignore[no-untyped-def]
    public = sim.call([Press("2")], to=PUBLIC_NUMBER).said()
    business = sim.call([Press("2")], to=BUSINESS_NUMBER).said()
    unknown = sim.call([Press("2")], to="+77001112233").said()

    assert PUBLIC_WELCOME in public and BUSINESS_WELCOME not in public
    assert BUSINESS_WELCOME in business and PUBLIC_WELCOME not in business
    assert PUBLIC_WELCOME in unknown


def test_a_business_report_is_filed_under_the_business_flow(line_app, sim) -> None:  # type: ignore[no-untyped-def]
    result = sim.call([Press("2"), Press("1"), Press("02"), Talk(20), Press("3")], to=BUSINESS_NUMBER)

    catalog = line_app.extensions["ivr"].flows
    business = catalog.registry(catalog.config.line_named("business")).current
    with line_app.extensions["ivr"].sessions() as session:
        call = session.scalars(select(Call).where(Call.call_sid == result.call_sid)).one()
    # The script ends as the numbers are read: the caller hung up at "finish".
    assert (call.flow_name, call.flow_version, call.last_node) == ("business", business.version, "finish")


def test_each_flow_reloads_on_its_own(line_app, sim, two_lines: Path) -> None:  # type: ignore[no-untyped-def]
    catalog = line_app.extensions["ivr"].flows
    public_version = catalog.for_number(PUBLIC_NUMBER).version

    edit(two_lines / "business.yaml", "для предпринимателей.", "для бизнеса.")
    assert "Здравствуйте! Это линия 1424 для бизнеса." in sim.call([Press("2")], to=BUSINESS_NUMBER).said()
    assert catalog.for_number(PUBLIC_NUMBER).version == public_version

    before = reload_errors()
    edit(two_lines / "business.yaml", "goto: anonymity}", "goto: anonimity}")
    business_call = sim.call([Press("2")], to=BUSINESS_NUMBER).said()
    public_call = sim.call([Press("2")], to=PUBLIC_NUMBER).said()

    assert "Здравствуйте! Это линия 1424 для бизнеса." in business_call  # the last good business flow
    assert PUBLIC_WELCOME in public_call
    errors = catalog.errors()
    assert list(errors) == ["business"] and "anonimity" in str(errors["business"])
    assert catalog.last_error is errors["business"]
    assert reload_errors() == before + 1
    ready = line_app.test_client().get("/readyz").get_json()
    assert ready["status"] == "degraded" and ready["checks"]["flow"] != "ok"


def test_lines_file_reloads_and_a_bad_edit_keeps_the_old_mapping(line_app, sim, two_lines: Path) -> None:  # type: ignore[no-untyped-def]
    catalog = line_app.extensions["ivr"].flows
    new_number = "+77172141426"
    edit(two_lines / "lines.yaml", f'["{BUSINESS_NUMBER}"]', f'["{BUSINESS_NUMBER}", "{new_number}"]')
    assert BUSINESS_WELCOME in sim.call([Press("2")], to=new_number).said()

    before = reload_errors()
    edit(two_lines / "lines.yaml", f'"{new_number}"]', '"87172141427"]')
    assert BUSINESS_WELCOME in sim.call([Press("2")], to=new_number).said()  # the last good mapping
    assert catalog.lines_error is not None and "E.164" in str(catalog.lines_error)
    assert "lines" in catalog.errors() and reload_errors() == before + 1

    edit(two_lines / "lines.yaml", '"87172141427"]', f'"{new_number}"]')
    assert PUBLIC_WELCOME not in sim.call([Press("2")], to=new_number).said()
    assert catalog.lines_error is None


def test_a_line_added_to_the_lines_file_serves_at_once(line_app, sim, two_lines: Path) -> None:  # type: ignore[no-untyped-def]
    third = FLOW.read_text(encoding="utf-8").replace("name: public", "name: press", 1).replace(
        PUBLIC_WELCOME, "Здравствуйте! Это линия 1424 для журналистов.", 1)
    (two_lines / "press.yaml").write_text(third, encoding="utf-8")
    edit(two_lines / "lines.yaml", "lines:\n",
         'lines:\n  press:\n    flow: press.yaml\n    numbers: ["+77172140000"]\n')

    assert "Здравствуйте! Это линия 1424 для журналистов." in sim.call([Press("2")], to="+77172140000").said()


def test_lines_file_rules(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text("x", encoding="utf-8")
    config = parse_lines('default: main\nlines:\n  main:\n    flow: flow.yaml\n    numbers: ["+77172141424"]\n',
                         tmp_path / "lines.yaml")
    assert config.line_for("+77172141424").name == "main"
    assert config.line_for("+7 (717) 214-14-24").name == "main"  # Twilio sends E.164; be lenient anyway
    assert config.line_for(None).name == "main" and config.line_for("+1555").name == "main"

    with pytest.raises(FlowError) as caught:
        parse_lines("default: main\nlines: {}\n", tmp_path / "lines.yaml")
    assert "list at least one line" in str(caught.value)
    with pytest.raises(FlowError) as caught:
        parse_lines("default: [\n", tmp_path / "lines.yaml")
    assert "not valid YAML" in str(caught.value) and caught.value.first.line == 2


def test_a_flow_outside_any_lines_file_serves_alone(two_lines: Path, tmp_path: Path) -> None:
    assert lines_path_for(two_lines / "flow.yaml") == two_lines / "lines.yaml"
    assert lines_path_for(two_lines / "lines.yaml") == two_lines / "lines.yaml"
    draft = two_lines / "draft.yaml"
    draft.write_text(FLOW.read_text(encoding="utf-8"), encoding="utf-8")
    assert lines_path_for(draft) is None  # a draft tried out next to the live files is not a line

    catalog = FlowCatalog.open(draft)
    assert [line.name for line in catalog.lines] == ["public"]
    assert catalog.for_number(BUSINESS_NUMBER).path == str(draft)


def test_shipped_lines_file_is_valid() -> None:
    config = load_lines(FLOW.parent / "lines.yaml")
    assert config.default.name == "public" and config.default.flow_path.resolve() == FLOW.resolve()
    assert config.line_for(PUBLIC_NUMBER).name == "public"
