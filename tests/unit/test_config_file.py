"""Automation as code, the pure part: YAML with positions, durations, the document, its checks and its dump."""

from __future__ import annotations

import json
from datetime import time, timedelta
from pathlib import Path

import pytest

from saleor_app.domain import kinds
from saleor_app.domain.automation import AutomationSettings
from saleor_app.domain.config_document import (
    EVENT_RULE_FIELDS,
    RULE_FIELDS,
    ConfigFileError,
    format_duration,
    parse_duration,
)
from saleor_app.domain.config_file import data_of, document_from, dump_config, parse_config
from saleor_app.domain.config_yaml import YamlProblem, parse_yaml
from saleor_app.domain.pipeline import DEFAULT_PIPELINE
from saleor_app.domain.rules import Repeat, Rule
from saleor_app.domain.schedule import QuietHours
from saleor_app.domain.triggers import Trigger

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    """The complete example file of the README's "Automation as code" section."""
    section = README.read_text().split("### A complete example", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigFileError) as caught:
        parse_config(text)
    return [str(problem) for problem in caught.value.problems]


def default_text() -> str:
    return dump_config(document_from(AutomationSettings(), DEFAULT_PIPELINE, [], []))


def with_rules(rules: str, stage: str = "paid") -> str:
    """The default document with `rules` (YAML lines at rule-list indentation) under `stage`."""
    text = default_text()
    anchor = f"  - key: {stage}\n    name: "
    head, tail = text.split(anchor)
    name, rest = tail.split("\n", 1)
    return f"{head}{anchor}{name}\n    rules:\n{rules}{rest}"


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("1d2h3m4s", 93784), ("0", 0),
    (0, 0), (" 5m ", 300),
])
def test_durations_are_read(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10", 10, "10 minutes", "m", "", "1.5h", "30m2h", True, None, "-5m"])
def test_other_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (90, "90s"), (600, "10m"), (5400, "90m"), (7200, "2h"),
                                               (86400, "1d"), (3601, "3601s"), (172800, "2d")])
def test_durations_are_written_in_one_exact_unit_and_read_back(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_yaml_scalars_are_read_the_yaml_1_2_way() -> None:
    data, _ = parse_yaml("a: 21:00\nb: 09:00\nc: on\nd: 2026-01-02\ne: 010\nf: 1.5\ng: true\nh: 7\n")
    assert data == {"a": "21:00", "b": "09:00", "c": "on", "d": "2026-01-02", "e": "010", "f": 1.5, "g": True, "h": 7}


@pytest.mark.parametrize(("text", "line", "column", "words"), [
    ("a: [1\n", 2, 1, "expected ',' or ']'"),
    ("a: 1\nb:\n  c: 2\n  c: 3\n", 4, 3, "'c' appears twice"),
    ("x: &anchor [1]\ny: *anchor\n", 1, 4, "aliases"),
    ("a: b: c\n", 1, 5, "mapping values are not allowed"),
    ("---\na: 1\n---\nb: 2\n", 3, 1, "single document"),
    ("a: !!python/object:os.system x\n", 1, 4, "constructor"),
])
def test_yaml_problems_have_line_and_column(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(YamlProblem) as caught:
        parse_yaml(text)
    assert caught.value.where is not None
    assert (caught.value.where.line, caught.value.where.column) == (line, column)
    assert words in caught.value.message


def test_an_empty_file_is_refused() -> None:
    assert problems("") == ["line 1, column 1: the file is empty"]
    assert problems("# only a comment\n") == ["line 1, column 1: the file is empty"]


def test_the_default_pipeline_round_trips_as_text() -> None:
    text = default_text()
    parsed = parse_config(text)
    assert dump_config(parsed.document) == text
    assert "version: 1\n" in text and "  - key: awaiting-payment\n" in text
    assert "      charge_status: [NONE, PARTIAL]\n      refund: none\n" in text


def test_the_readme_example_parses_and_dumps_back_to_the_same_text() -> None:
    parsed = parse_config(readme_example())
    again = dump_config(parsed.document)
    assert again.split("\n", 1)[1] == readme_example()  # the example is exactly what an export prints
    rules = {rule.key: rule for stage in parsed.document.stages for rule in stage.rules}
    assert rules["pay-reminder"].delay == 86400 and rules["pay-reminder"].max_age == 7200
    assert rules["pay-reminder"].repeat is Repeat.ONCE_PER_ORDER
    assert rules["morning-check"].at == time(9, 0)
    assert rules["ship-it"].kind_fields == {"stage": "shipped"}
    assert parsed.document.settings.quiet_hours is not None
    assert parsed.document.settings.quiet_hours.start == time(21, 0)


def test_json_is_accepted_as_well() -> None:
    data = data_of(parse_config(readme_example()).document)
    for indent in (2, "\t", None):
        parsed = parse_config(json.dumps(data, indent=indent))
        assert parsed.document == parse_config(readme_example()).document
    with pytest.raises(ConfigFileError, match=r"^line 4, column 18: settings.time_zone: 'Nowhere' is "
                                                r"not an IANA time zone \(e.g. Europe/Berlin\)\nline 6, column 13: "
                                                r"stages: needs at least 1 item$"):
        parse_config(json.dumps({"version": 1, "settings": {"time_zone": "Nowhere"}, "stages": []}, indent=2))


def test_a_structural_error_points_at_its_line() -> None:
    text = with_rules("      - key: late\n        name: Late\n        kind: add_note\n        message: hi\n"
                      "        delay: 10 minutes\n")
    line = text.splitlines().index("        delay: 10 minutes") + 1
    assert problems(text) == [f"line {line}, column 16: stages[2].rules[0].delay: '10 minutes' is not a duration; "
                              "write it like 90s, 10m, 2h, 1d or 1h30m"]


@pytest.mark.parametrize("written", ["on", "yes", "1", "'true'"])
def test_a_flag_is_true_or_false_only(written: str) -> None:
    text = with_rules("      - key: late\n        name: Late\n        kind: add_note\n        message: hi\n"
                      f"        enabled: {written}\n")
    line = text.splitlines().index(f"        enabled: {written}") + 1
    assert problems(text) == [f"line {line}, column 18: stages[2].rules[0].enabled: write true or false"]
    assert parse_config(text.replace(f"enabled: {written}", "enabled: false")).document.stages[2].rules[0].enabled \
        is False


def test_an_unknown_field_points_at_its_key_and_a_missing_one_at_the_mapping() -> None:
    text = default_text().replace("  - key: shipped\n    name: Shipped\n",
                                  "  - key: shipped\n    nmae: Shipped\n")
    lines = text.splitlines()
    start, typo = lines.index("  - key: shipped") + 1, lines.index("    nmae: Shipped") + 1
    assert problems(text) == [f"line {start}, column 5: stages[5]: missing field 'name'",
                              f"line {typo}, column 5: stages[5].nmae: unknown field 'nmae'"]


def test_reference_problems_are_all_reported_with_lines() -> None:
    text = with_rules(
        "      - key: a\n        name: A\n        kind: add_note\n        mesage: hi\n"  # typo in a kind field
        "      - key: b\n        name: B\n        kind: change_stage\n        stage: new\n"  # New has no plan
        "      - key: a\n        name: C\n        kind: add_note\n        message: '{{ order.nmber }}'\n"
        "      - key: d\n        name: D\n        kind: send_fax\n"
    )
    lines = text.splitlines()
    found = problems(text)
    assert found[0].startswith(f"line {lines.index('      - key: a') + 1}, column 9: stages[2].rules[0]: "
                               "missing field 'message'")
    assert found[1].startswith(f"line {lines.index('        mesage: hi') + 1}, column 9: stages[2].rules[0].mesage: "
                               "unknown field 'mesage' for kind add_note")
    assert found[2].startswith(f"line {lines.index('        stage: new') + 1}, column 16: stages[2].rules[1].stage: "
                               "New follows Saleor's state and has no write-back plan")
    assert "rule key 'a' is used twice (first at stages[2].rules[0])" in found[3]
    assert "Unknown variable 'order.nmber'" in found[4]
    assert "unknown rule kind 'send_fax'" in found[5]
    assert len(found) == 6


def test_a_trigger_on_a_stage_without_a_plan_is_refused_at_its_line() -> None:
    text = default_text().replace("  - key: returned\n    name: Returned\n",
                                  "  - key: returned\n    name: Returned\n    triggers:\n      - key: back\n"
                                  "        event: order_refunded\n")
    line = text.splitlines().index("      - key: back") + 1
    assert problems(text) == [f"line {line}, column 9: stages[6].triggers[0]: a trigger moves orders into stage "
                              "returned, but Returned follows Saleor's state and has no write-back plan, so orders "
                              "cannot be moved there; choose a stage such as Paid, Shipped or a custom stage"]


def test_unknown_events_and_their_params_are_refused() -> None:
    text = default_text() + ("event_rules:\n  - {key: e1, name: E1, event: order_teleported, kind: add_note, "
                             "message: x}\n  - {key: e2, name: E2, event: order_paid, event_params: {key: x}, "
                             "kind: add_note, message: x}\n")
    found = problems(text)
    assert "event_rules[0].event: unknown event 'order_teleported'; known events:" in found[0]
    assert "event_rules[1].event_params: event order_paid takes no parameter key" in found[1]


def test_stage_matches_and_settings_are_checked() -> None:
    text = default_text().replace("status: [EXPIRED]", "status: [EXPIRD]").replace("time_zone: UTC",
                                                                                  "time_zone: Mars/Olympus")
    found = problems(text)
    assert "settings.time_zone: 'Mars/Olympus' is not an IANA time zone" in found[0]
    assert "stages[8].match.status: 'EXPIRD': not a Saleor order status" in found[1]


def test_duplicate_stage_keys_and_a_wrong_version_are_refused() -> None:
    text = default_text().replace("key: expired", "key: cancelled")
    assert "stage key 'cancelled' is used twice (first at stages[7])" in problems(text)[0]
    assert problems(default_text().replace("version: 1", "version: 2"))[0].endswith("version: Input should be 1")


def test_no_kind_names_a_field_like_a_rule_field() -> None:
    for rule_kind in kinds.kinds():
        assert not set(rule_kind.config.model_fields) & set(RULE_FIELDS + EVENT_RULE_FIELDS), rule_kind.name


def test_stored_state_becomes_a_document_and_back() -> None:
    rules = [
        Rule(1, 1, "paid", "thanks", "Thanks", "add_note", {"message": "Line one\nLine two"}, 1,
             delay=timedelta(minutes=10), at=time(9, 0), max_age=timedelta(hours=2), repeat=Repeat.ONCE_PER_ORDER,
             condition={"match": "any", "rules": [{"field": "total", "op": "gt", "key": None, "value": 100.5},
                                                  {"field": "shipping_country", "op": "in", "key": None,
                                                   "value": ["DE", "AT"]}]}),
        Rule(2, 1, "paid", "first", "First", "change_stage", {"stage": "shipped"}, 0, enabled=False),
        Rule(3, 1, None, "gift", "Gift", "add_note", {"message": "gift"}, 0, event="metadata_changed",
             event_params={"key": "gift"}, cancel_on_move=True),
    ]
    triggers = [Trigger(1, 1, "shipped", "ship", "Ship", "order_fully_paid", allow_back=True,
                        condition={"match": "all", "rules": [{"field": "customer", "op": "eq", "value": "new"}]})]
    settings = AutomationSettings(time_zone="Europe/Berlin", quiet_hours=QuietHours(time(21, 0), time(8, 0)))
    document = document_from(settings, DEFAULT_PIPELINE, sorted(rules, key=lambda r: r.position), triggers)
    text = dump_config(document)
    assert parse_config(text).document == document
    paid = text.split("  - key: paid\n")[1].split("  - key: refunded\n")[0]
    assert paid.index("key: first") < paid.index("key: thanks")  # stored order
    assert '        at: "09:00"\n' in paid and "        delay: 10m\n" in paid and "        max_age: 2h\n" in paid
    assert "        message: |-\n          Line one\n          Line two\n" in paid
    assert "value: [DE, AT]" in paid and "value: 100.5" in paid
    assert 'quiet_hours:\n    start: "21:00"\n    end: "08:00"\n' in text
    assert "event_rules:\n  - key: gift\n    name: Gift\n    event: metadata_changed\n" in text
