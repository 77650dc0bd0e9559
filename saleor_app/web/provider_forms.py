"""What the page's Providers view needs beside web/providers_api.py: the connect form of each provider kind, and
which credentials each account holds (secrets are write-only: no character of one leaves the server)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from saleor_app.saleor.dashboard_auth import OrderManagerDep

router = APIRouter(prefix="/api/v1", tags=["providers"])

# The inputs each connector's `validate` reads (providers/postmark.py, smtp.py, twilio_connector.py).
_FORMS: dict[str, dict[str, list[dict[str, Any]]]] = {
    "postmark": {
        "credentials": [
            {"name": "server_token", "label": "Server API token", "required": True,
             "help": "Postmark: your server → API Tokens."},
            {"name": "account_token", "label": "Account API token",
             "help": "Optional: lets the app list your confirmed sender signatures."},
        ],
        "settings": [
            {"name": "message_stream", "label": "Message stream", "placeholder": "outbound"},
            {"name": "mailboxes", "label": "Mailboxes", "widget": "lines",
             "help": "Sender addresses, one a line (confirmed in Postmark)."},
        ],
    },
    "smtp": {
        "credentials": [{"name": "username", "label": "Username"}, {"name": "password", "label": "Password"}],
        "settings": [
            {"name": "host", "label": "Host", "required": True, "placeholder": "smtp.example.com"},
            {"name": "port", "label": "Port", "widget": "number", "placeholder": "587"},
            {"name": "security", "label": "Security", "choices": ["starttls", "tls", "none"]},
            {"name": "from_address", "label": "From address", "required": True, "placeholder": "shop@example.com"},
            {"name": "from_name", "label": "From name"},
        ],
    },
    "twilio": {
        "credentials": [
            {"name": "account_sid", "label": "Account SID", "required": True, "help": "AC… (Twilio Console)."},
            {"name": "auth_token", "label": "Auth token", "required": True},
            {"name": "api_key_sid", "label": "API key SID", "help": "Optional: SK…, used instead of the auth token "
                                                                     "for API calls."},
            {"name": "api_key_secret", "label": "API key secret"},
        ],
        "settings": [],
    },
}


SECRET_STORED = "stored"  # what a stored secret shows: even a few characters of one are a part of it


@router.get("/provider-forms")
async def provider_forms(user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """The connect form of each provider kind, and for each account its stored credentials: a secret as "stored"
    only, the others (account SID, user name) as they are."""
    providers = request.app.state.container.providers
    kinds = []
    for name, form in _FORMS.items():
        connector = providers.connector(name)
        secret = set(connector.secret_fields)
        kinds.append({"kind": name, "label": connector.label,
                      "credentials": [{**field, "secret": field["name"] in secret} for field in form["credentials"]],
                      "settings": form["settings"]})
    stored = {}
    for view in await providers.list(user.installation.id):
        secret = set(providers.connector(view.account.kind).secret_fields)
        credentials = await providers.credentials(view.account.id)
        stored[view.account.key] = {name: SECRET_STORED if name in secret else value
                                    for name, value in credentials.items() if value}
    return {"kinds": kinds, "stored": stored}
