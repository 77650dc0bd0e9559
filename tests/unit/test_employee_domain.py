"""The pure parts of employee automation: rotation, cycles, signatures, sequences and the rule configs' refusals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from saleor_app.domain.employee_config import Known, rule_references
from saleor_app.domain.employee_kinds import HttpRequestConfig, NotifyTeamConfig, UpdateOrderConfig, render_body
from saleor_app.domain.request_signing import signature, verify
from saleor_app.domain.sequences import NumberSequence, uses_sequence
from saleor_app.domain.team import MemberSource, MemberSpec, TeamGroup, TeamMember, member_key_for, next_in_rotation
from saleor_app.domain.workflows import WorkflowSpec, cycle_problem, find_cycle


def member(key: str, away: bool = False) -> TeamMember:
    return TeamMember(1, 1, key, key, f"{key}@x.example", None, away, None, MemberSource.MANUAL)


def test_rotation_gives_everyone_a_turn_and_skips_who_is_away() -> None:
    members = {key: member(key, away=key == "b") for key in "abcd"}
    group = TeamGroup(1, 1, "g", "", ("a", "b", "c", "d"), -1)
    picks = []
    for _ in range(6):
        chosen = next_in_rotation(group, members)
        assert chosen is not None
        picks.append(chosen.member.key)
        group = TeamGroup(1, 1, "g", "", group.member_keys, chosen.index)
    assert picks == ["a", "c", "d", "a", "c", "d"]
    del members["c"]  # removed from the team since: skipped like someone away
    wrapped = next_in_rotation(TeamGroup(1, 1, "g", "", ("a", "b", "c"), 0), members)
    assert wrapped is not None and (wrapped.member.key, wrapped.index) == ("a", 0)  # back round to a
    assert next_in_rotation(TeamGroup(1, 1, "g", "", ("b", "c"), -1), members) is None


def test_cycles_are_found_through_other_workflows() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"b"}}) is None
    run = {"key": "go", "kind": "run_workflow", "config": {"workflow": "a"}}
    saving = WorkflowSpec.model_validate({"key": "a", "steps": [{**run, "config": {"workflow": "a"}}]})
    assert cycle_problem([saving], []) == ("workflow a would start itself (a → a); remove one of these "
                                           "run_workflow steps")


def test_signatures_verify_and_refuse_tampering_and_old_ones() -> None:
    header = signature("s3cret", 1_700_000_000, b'{"a":1}')
    assert verify("s3cret", header, b'{"a":1}', now=1_700_000_100)
    assert not verify("s3cret", header, b'{"a":2}', now=1_700_000_100)
    assert not verify("other", header, b'{"a":1}', now=1_700_000_100)
    assert not verify("s3cret", header, b'{"a":1}', now=1_700_001_000)
    assert not verify("s3cret", "garbage", b'{"a":1}', now=1_700_000_000)


def test_sequences_format_and_are_used_only_when_asked() -> None:
    assert NumberSequence(1, 1, "k", "INV-", 5, 42).format(42) == "INV-00042"
    assert uses_sequence(["Nr {{ sequence.next }}"]) and not uses_sequence(["{{ automation.number }}"])


def test_member_keys_for_staff_are_readable_and_unique() -> None:
    assert member_key_for("Jane.Doe@shop.example", set()) == "jane.doe"
    assert member_key_for("jane.doe@other.example", {"jane.doe"}) == "jane.doe-2"


@pytest.mark.parametrize(("config", "message"), [
    ({}, "say what to change"),
    ({"set_private_metadata": {"order-automation.stage": "x"}}, "belong to the app"),
    ({"set_metadata": {"a": "{{ order.nmber }}"}}, "Unknown variable 'order.nmber'"),
    ({"set_metadata": {"a": "1"}, "remove_metadata": ["a"]}, "set and removed in the same rule"),
])
def test_update_order_configs_are_refused_with_a_reason(config: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        UpdateOrderConfig.model_validate(config)


def test_notify_and_http_configs_say_what_is_missing() -> None:
    with pytest.raises(ValidationError, match="needs members, groups or responsible"):
        NotifyTeamConfig.model_validate({"message": "hi", "channel": "sms"})
    with pytest.raises(ValidationError, match="channel webhook needs webhook_url"):
        NotifyTeamConfig.model_validate({"message": "hi", "channel": "webhook"})
    with pytest.raises(ValidationError, match="X-Order-Automation-Signature: set by the app"):
        HttpRequestConfig.model_validate({"url": "https://erp.example/hook",
                                          "headers": {"X-Order-Automation-Signature": "x"}})
    with pytest.raises(ValidationError, match=r"body.items.0.name: line 1"):
        HttpRequestConfig.model_validate({"url": "https://erp.example/hook", "body": {"items": [{"name": "{{"}]}})


def test_a_body_renders_texts_and_keeps_other_json_values() -> None:
    body = {"n": "{{ x }}", "paid": True, "lines": [{"q": 2, "t": "{{ x }}"}], "none": None}
    assert render_body(body, lambda source: source.replace("{{ x }}", 'a"b')) == {
        "n": 'a"b', "paid": True, "lines": [{"q": 2, "t": 'a"b'}], "none": None}


def test_rule_references_name_what_is_missing() -> None:
    known = Known(frozenset({"ann"}), frozenset({"desk"}), frozenset({"flow"}))
    assert rule_references("create_task", {"assignee": {"member": "zed"}}, known) == [
        ("member", "there is no team member 'zed'; known: ann")]
    assert rule_references("notify_team", {"groups": ["desk", "ops"]}, known) == [
        ("groups", "there is no group 'ops'; known: desk")]
    assert rule_references("run_workflow", {"workflow": "flow"}, known) == []


def test_a_member_needs_a_way_to_be_reached() -> None:
    with pytest.raises(ValidationError, match="needs an e-mail address or a phone number"):
        MemberSpec(key="x")
