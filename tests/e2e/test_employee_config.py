"""Employee automation as code: team, sequences and workflows in the YAML file, references refused on save with
their line, and an export that imports again without a change."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from saleor_app.domain.config_document import ConfigFileError
from saleor_app.domain.config_file import dump_config, parse_config
from saleor_app.domain.rules import RuleSpec
from saleor_app.engine.configure import ConfigurationError
from tests.e2e.engine_stack import EngineStack, engine_stack

FILE = """\
version: 1
stages:
  - key: new
    name: New
    match: {status: [UNCONFIRMED]}
    rules:
      - key: owner
        name: Pick who handles it
        kind: set_responsible
        group: sales
      - key: number
        name: Our own number
        kind: update_order
        set_private_metadata: {erp: "{{ sequence.next }}"}
        after_previous: true
      - key: go
        name: Start the follow-up
        kind: run_workflow
        workflow: follow-up
  - key: awaiting-payment
    name: Awaiting payment
    match: {status: [UNFULFILLED], charge_status: [NONE, PARTIAL], refund: none}
  - key: paid
    name: Paid
    match: {status: [UNFULFILLED], charge_status: [FULL, OVERCHARGED]}
  - key: refunded
    name: Refunded
    match: {status: [UNCONFIRMED, UNFULFILLED], refund: recorded}
  - key: partially-shipped
    name: Partially shipped
    match: {status: [PARTIALLY_FULFILLED]}
  - key: shipped
    name: Shipped
    match: {status: [FULFILLED]}
  - key: returned
    name: Returned
    match: {status: [PARTIALLY_RETURNED, RETURNED]}
  - key: cancelled
    name: Cancelled
    match: {status: [CANCELED]}
  - key: expired
    name: Expired
    match: {status: [EXPIRED]}
team:
  members:
    - {key: ann, name: Ann, email: ann@shop.example}
    - {key: bob, name: Bob, phone: "+4915112345678"}
  groups:
    - {key: sales, members: [ann, bob]}
sequences:
  - {key: order-number, prefix: "N-", padding: 4, start: 7}
workflows:
  - key: follow-up
    steps:
      - key: call
        kind: create_task
        config: {title: "Call {{ customer.full_name }}", assignee: {responsible: true}, due_in: 1d}
"""


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


async def apply(stack: EngineStack, text: str, *, dry_run: bool = False) -> list[str]:
    parsed = parse_config(text)
    report = await stack.container.configure.apply_config(stack.installation.id, parsed.document, dry_run=dry_run,
                                                          locate=parsed.locate)
    return report.lines()


async def test_a_file_sets_up_the_team_sequence_and_workflow_and_they_run(stack: EngineStack) -> None:
    assert any(line.startswith("team added: ann, bob, group sales") for line in await apply(stack, FILE))
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert order.private_metadata["erp"] == "N-0007"
    owner = order.private_metadata["order-automation.responsible"]
    [task] = await stack.container.employees.work.tasks(stack.installation.id)
    assert task.assignee_key == owner and task.rule_key == "wf:follow-up:call"
    exported = dump_config(await stack.container.configure.export_config(stack.installation.id))
    assert "order-number" in exported and "follow-up" in exported and "ann@shop.example" in exported
    assert await apply(stack, exported) == ["nothing to change: the installation already has this configuration"]


async def test_unknown_members_groups_and_workflows_are_refused_with_their_line(stack: EngineStack) -> None:
    broken = FILE.replace("group: sales", "group: salez").replace("workflow: follow-up", "workflow: nope")
    broken = broken.replace("members: [ann, bob]", "members: [ann, zed]")
    with pytest.raises(ConfigFileError) as caught:
        await apply(stack, broken)
    text = str(caught.value)
    assert "line 10, column 16: stages[0].rules[0].group: there is no group 'salez'" in text
    assert "there is no workflow 'nope'" in text and "there is no team member 'zed'" in text
    assert await stack.container.employees.team.members(stack.installation.id) == []  # nothing was changed


async def test_a_workflow_cycle_in_the_file_is_refused(stack: EngineStack) -> None:
    cyclic = FILE.replace("""        kind: create_task
        config: {title: "Call {{ customer.full_name }}", assignee: {responsible: true}, due_in: 1d}
""", """        kind: run_workflow
        config: {workflow: follow-up}
""")
    with pytest.raises(ConfigFileError, match=r"workflow follow-up would start itself \(follow-up → follow-up\)"):
        await apply(stack, cyclic)


async def test_saving_a_rule_that_names_an_unknown_member_is_refused(stack: EngineStack) -> None:
    with pytest.raises(ConfigurationError, match="config.member: there is no team member 'ghost'"):
        await stack.container.configure.save_rule(stack.installation.id, RuleSpec.model_validate(
            {"key": "x", "name": "x", "stage": "new", "kind": "create_task",
             "config": {"title": "t", "assignee": {"member": "ghost"}}}))
