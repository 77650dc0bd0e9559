"""What the Dashboard page's editors are built from: every rule kind's config JSON schema with small UI hints,
the events, the condition fields and the template variables — all read from the registries, so a kind
registered later gets an editor without touching the page."""

from __future__ import annotations

from typing import Any

from saleor_app.domain import conditions, events, kinds
from saleor_app.domain.template_fields import FIELDS as TEMPLATE_FIELDS

# Widgets the page knows: template (field picker + live preview), template-html, sms (template + SMS counter),
# textarea, stage (a stage of the pipeline), lines (one item a line), pairs (key: value lines), json.
# A string field whose description says it is a template gets the template widget without a hint here.
_HINTS: dict[str, dict[str, dict[str, Any]]] = {
    "add_note": {"message": {"widget": "template", "rows": 4}},
    "change_stage": {"stage": {"widget": "stage"}},
    "email": {"subject": {"widget": "template", "rows": 1}, "html": {"widget": "template-html", "rows": 8},
              "text": {"widget": "template", "rows": 6}},
    "sms": {"text": {"widget": "sms", "rows": 3}},
    "call": {"text": {"widget": "template", "rows": 4}},
    "update_order": {"note": {"widget": "template", "rows": 3}, "external_reference": {"widget": "template", "rows": 1},
                     "set_metadata": {"widget": "pairs", "template": True},
                     "set_private_metadata": {"widget": "pairs", "template": True}},
    "create_task": {"title": {"widget": "template", "rows": 1}, "description": {"widget": "template", "rows": 4}},
    "notify_team": {"message": {"widget": "template", "rows": 4}, "subject": {"widget": "template", "rows": 1}},
    "http_request": {"body": {"widget": "json", "template": True}, "headers": {"widget": "pairs"}},
}

_OP_LABELS = {"eq": "is", "ne": "is not", "gt": "greater than", "gte": "at least", "lt": "less than",
              "lte": "at most", "in": "is one of", "not_in": "is none of", "contains_any": "include any of",
              "contains_none": "include none of", "contains": "contains", "exists": "is set",
              "not_exists": "is not set"}


def _hints(kind: kinds.RuleKind, schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    hints = {name: dict(hint) for name, hint in _HINTS.get(kind.name, {}).items()}
    for name, field in (schema.get("properties") or {}).items():
        described = str(field.get("description", "")).lower()
        if name not in hints and "template" in described and _is_text(field):
            hints[name] = {"widget": "template", "rows": 3}
    return hints


def _is_text(field: dict[str, Any]) -> bool:
    return field.get("type") == "string" or any(option.get("type") == "string" for option in field.get("anyOf", []))


def catalogue() -> dict[str, Any]:
    listed = []
    for kind in kinds.kinds():
        schema = kind.config.model_json_schema()
        listed.append({"name": kind.name, "label": kind.label, "schema": schema, "hints": _hints(kind, schema),
                       "realtime": kind.realtime_customer_facing})
    return {
        "kinds": listed,
        "events": [{"name": event.name, "label": event.label, "params": list(event.params),
                    "fromSaleor": event.from_saleor} for event in events.event_types()],
        "conditionFields": [{"name": spec.name, "label": spec.label, "kind": spec.kind,
                             "ops": [{"op": op, "label": _OP_LABELS.get(op, op)} for op in spec.ops],
                             "choices": list(spec.choices)} for spec in conditions.FIELDS.values()],
        "templateFields": [{"path": field.path, "type": field.type, "description": field.description,
                            "example": field.example} for field in TEMPLATE_FIELDS],
    }
