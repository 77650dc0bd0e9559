"""What each Saleor action does to the fake's state, how it refuses, and which events it emits in which order.

Orders and messages follow ../shared/saleor/samples (README "Surprises" 1–14 and timeline.json). Actions are
synchronous: they change state and return the payload plus the events; the caller delivers the events.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from graphql import GraphQLSchema
from tests.fakes.graphql_exec import FieldError, permission_denied, subscription_problem
from tests.fakes.saleor_model import (
    SYSTEM,
    App,
    Caller,
    Fulfillment,
    Note,
    Order,
    OrderLine,
    Transaction,
    Webhook,
    decode_gid,
)
from tests.fakes.saleor_outcomes import Emitted, Outcome, Refusal, node_pk, order_error, require, simple_error
from tests.fakes.saleor_state import SaleorState

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WEBHOOK_SCHEMES = ("http://", "https://", "awssqs://", "gcpubsub://")
# Fulfillments in these states do not stop a cancel (Order.can_cancel).
_CANCEL_OK_FULFILLMENTS = {"CANCELED", "REFUNDED", "REPLACED", "REFUNDED_AND_RETURNED", "RETURNED"}


class SaleorActions:
    def __init__(self, state: SaleorState, schema: GraphQLSchema | None) -> None:
        self.state = state
        self.schema = schema

    # -- helpers -------------------------------------------------------------------------------------------------

    def emit(self, caller: Caller, event_type: str, order: Order | None = None, **extra: Any) -> Emitted:
        return Emitted(event_type, self.state.now(), self.state.principal(caller), order=order, **extra)

    def touch(self, order: Order) -> None:
        order.updated_at = self.state.now()

    def order(self, value: object, field_name: str) -> Order:
        found = self.state.orders.get(node_pk(value, "Order"))
        if found is None:
            raise Refusal(order_error(field_name, f"Couldn't resolve to a node: {value}", "NOT_FOUND"))
        return found

    def order_payload(self, typename: str, order: Order, **extra: Any) -> dict[str, Any]:
        return {"__typename": typename, "order": lambda _args: self.state.order_view(order), **extra, "errors": []}

    # -- order lifecycle -----------------------------------------------------------------------------------------

    def draft_order_complete(self, caller: Caller, order_id: object, auto_confirm: bool | None = None) -> Outcome:
        require(caller, "MANAGE_ORDERS")
        order = self.order(order_id, "id")
        if order.status != "DRAFT":
            raise Refusal(order_error("id", "The order is not draft.", "INVALID"))
        confirm = self.state.channel.auto_confirm if auto_confirm is None else auto_confirm
        order.status = "UNFULFILLED" if confirm else "UNCONFIRMED"
        self.touch(order)
        events = [self.emit(caller, "ORDER_CREATED", order)]
        if confirm:  # surprise 5: ORDER_CREATED then ORDER_CONFIRMED, no ORDER_UPDATED
            events.append(self.emit(caller, "ORDER_CONFIRMED", order))
        return Outcome(self.order_payload("DraftOrderComplete", order), events)

    def order_confirm(self, caller: Caller, id: object) -> Outcome:
        require(caller, "MANAGE_ORDERS")
        order = self.order(id, "id")
        if order.status != "UNCONFIRMED":
            raise Refusal(order_error(
                "id", "Provided order id belongs to an order with status different than unconfirmed.", "INVALID"))
        if not order.lines:
            raise Refusal(order_error("id", "Provided order id belongs to an order without products.", "INVALID"))
        order.status = "UNFULFILLED"
        self.touch(order)
        return Outcome(self.order_payload("OrderConfirm", order), [self.emit(caller, "ORDER_CONFIRMED", order)])

    def order_cancel(self, caller: Caller, id: object) -> Outcome:
        require(caller, "MANAGE_ORDERS")
        order = self.order(id, "id")
        live = [f for f in order.fulfillments if f.status not in _CANCEL_OK_FULFILLMENTS]
        if order.status in ("CANCELED", "DRAFT", "EXPIRED") or live:
            raise Refusal(order_error("order", "This order can't be canceled.", "CANNOT_CANCEL_ORDER"))
        order.status = "CANCELED"
        self.touch(order)
        events = [self.emit(caller, "ORDER_CANCELLED", order), self.emit(caller, "ORDER_UPDATED", order)]
        return Outcome(self.order_payload("OrderCancel", order), events)

    def expire(self, order: Order) -> Outcome:
        """The periodic expire_orders_task: no principal, and it does not bump updatedAt (surprise 7)."""
        if order.status != "UNCONFIRMED" or order.transactions:
            raise ValueError(f"order #{order.number} ({order.status}, {len(order.transactions)} transactions) "
                             "cannot expire: only UNCONFIRMED orders without payments do")
        order.status = "EXPIRED"
        events = [self.emit(SYSTEM, "ORDER_EXPIRED", order), self.emit(SYSTEM, "ORDER_UPDATED", order)]
        return Outcome({"order": self.state.order_view(order)}, events)

    # -- payments ------------------------------------------------------------------------------------------------

    def order_mark_as_paid(self, caller: Caller, id: object, transactionReference: str | None = None) -> Outcome:
        require(caller, "MANAGE_ORDERS")
        order = self.order(id, "id")
        if order.transactions:
            raise Refusal(order_error(
                "transaction", "Orders with transactions can not be manually marked as paid.", "TRANSACTION_ERROR"))
        if order.billing_address is None:
            raise Refusal(order_error(
                "order", "Order billing address is required to mark order as paid.", "BILLING_ADDRESS_NOT_SET"))
        self._add_transaction(order, "Mark-as-paid transaction", transactionReference, order.total)
        self.touch(order)
        # Surprise 4: TRANSACTION_FLOW channels send ORDER_FULLY_PAID then ORDER_UPDATED, never ORDER_PAID.
        events = [self.emit(caller, "ORDER_FULLY_PAID", order), self.emit(caller, "ORDER_UPDATED", order)]
        return Outcome(self.order_payload("OrderMarkAsPaid", order), events)

    def charge(self, caller: Caller, order: Order, amount: float, psp_reference: str | None) -> Outcome:
        """Staff `transactionCreate` with amountCharged."""
        self._add_transaction(order, "Partial capture", psp_reference, amount)
        self.touch(order)
        paid = "ORDER_FULLY_PAID" if order.is_fully_paid else "ORDER_PAID"
        events = [self.emit(caller, paid, order), self.emit(caller, "ORDER_UPDATED", order)]
        return Outcome({"order": self.state.order_view(order)}, events)

    def refund(self, caller: Caller, order: Order, amount: float | None) -> Outcome:
        """Staff `transactionUpdate` moving `amount` from charged to refunded on the first charged transaction."""
        transaction = next((t for t in order.transactions if t.charged > 0), None)
        if transaction is None:
            raise ValueError(f"order #{order.number} has no charged transaction to refund")
        moved = transaction.charged if amount is None else min(amount, transaction.charged)
        transaction.charged = round(transaction.charged - moved, 2)
        transaction.refunded = round(transaction.refunded + moved, 2)
        transaction.events.append(self._transaction_event("REFUND_SUCCESS", moved, transaction.psp_reference))
        self.touch(order)
        events = [self.emit(caller, "ORDER_REFUNDED", order), self.emit(caller, "ORDER_UPDATED", order)]
        if order.refunded >= order.total:  # surprise 8: FULLY_REFUNDED comes last
            events.append(self.emit(caller, "ORDER_FULLY_REFUNDED", order))
        return Outcome({"order": self.state.order_view(order)}, events)

    def fail_charge(self, caller: Caller, order: Order, amount: float) -> Outcome:
        """A payment app reports a failed charge (transactionEventReport CHARGE_FAILURE on a new transaction).
        Not captured from a real Saleor: the order-level delivery is assumed to be ORDER_UPDATED."""
        transaction = Transaction(str(uuid.uuid4()), "Card payment", None, 0.0, 0.0, self.state.now())
        transaction.events.append(self._transaction_event("CHARGE_FAILURE", amount, None))
        order.transactions.append(transaction)
        self.touch(order)
        return Outcome({"order": self.state.order_view(order)}, [self.emit(caller, "ORDER_UPDATED", order)])

    def _add_transaction(self, order: Order, name: str, psp_reference: str | None, amount: float) -> None:
        transaction = Transaction(str(uuid.uuid4()), name, psp_reference, round(amount, 2), 0.0, self.state.now())
        transaction.events.append(self._transaction_event("CHARGE_SUCCESS", amount, psp_reference))
        order.transactions.append(transaction)

    def _transaction_event(self, kind: str, amount: float, psp_reference: str | None) -> dict[str, Any]:
        return {"__typename": "TransactionEvent", "id": f"fake-{uuid.uuid4()}", "type": kind,
                "createdAt": self.state.now(), "message": "", "pspReference": psp_reference, "amount": amount}

    # -- fulfilment ----------------------------------------------------------------------------------------------

    def order_fulfill(self, caller: Caller, input: dict[str, Any], order: object = None) -> Outcome:
        require(caller, "MANAGE_ORDERS")
        target = self.order(order, "order")
        shop = self.state.shop
        if not target.is_fully_paid and shop.fulfillment_auto_approve and not shop.fulfillment_allow_unpaid:
            raise Refusal(order_error("order", "Cannot fulfill unpaid order.", "CANNOT_FULFILL_UNPAID_ORDER"))
        requested = self._fulfil_lines(target, input.get("lines") or [])
        approved = shop.fulfillment_auto_approve
        if approved:
            for line, _quantity in requested:
                if line.spec.preorder:
                    raise Refusal(order_error("orderLineId", "Can not fulfill preorder variant.",
                                              "FULFILL_ORDER_LINE", order_lines=[line.id]))
        if sum(quantity for _, quantity in requested) <= 0:
            raise Refusal(order_error("lines", "Total quantity must be larger than 0.", "ZERO_QUANTITY"))
        stale = target.updated_at
        tracking = input.get("trackingNumber") or ""
        fulfillment = Fulfillment(
            pk=self.state.next_pk("fulfillment"), fulfillment_order=len(target.fulfillments) + 1,
            status="FULFILLED" if approved else "WAITING_FOR_APPROVAL", tracking_number=tracking,
            created=self.state.now(), warehouse=self.state.warehouse,
            lines=[(self.state.next_pk("fulfillment_line"), line, qty) for line, qty in requested if qty > 0])
        target.fulfillments.append(fulfillment)
        for line, quantity in requested:  # waiting lines count as fulfilled too (seen on Saleor 3.23.28)
            line.quantity_fulfilled += quantity
        self._update_status(target)
        self.touch(target)
        notify = input.get("notifyCustomer")
        events = []
        if tracking:  # surprise 6: the tracking event comes before FULFILLMENT_CREATED
            events.append(self.emit(caller, "FULFILLMENT_TRACKING_NUMBER_UPDATED", target, fulfillment=fulfillment))
        if approved:
            events.append(self.emit(caller, "FULFILLMENT_CREATED", target, fulfillment=fulfillment,
                                    notify_customer=True if notify is None else notify, updated_at=stale))
        events.append(self.emit(caller, "ORDER_UPDATED", target))
        if target.status == "FULFILLED":
            events.append(self.emit(caller, "ORDER_FULFILLED", target))
        payload = self.order_payload(
            "OrderFulfill", target, fulfillments=lambda _args: [self.state.fulfillment_view(fulfillment)])
        return Outcome(payload, events)

    def _fulfil_lines(self, order: Order, lines: list[dict[str, Any]]) -> list[tuple[OrderLine, int]]:
        """Saleor's OrderFulfill.clean_input checks, in its order: warehouses, duplicates, nodes, quantities."""
        for line_input in lines:
            warehouses = [stock.get("warehouse") for stock in line_input.get("stocks") or []]
            duplicate = next((w for w in warehouses if warehouses.count(w) > 1), None)
            if duplicate is not None:
                raise Refusal(order_error("warehouse", "Duplicated warehouse ID.", "DUPLICATED_INPUT_ITEM",
                                          warehouse=duplicate))
        line_ids = [line_input.get("orderLineId") for line_input in lines]
        duplicate_line = next((i for i in line_ids if line_ids.count(i) > 1), None)
        if duplicate_line is not None:
            raise Refusal(order_error("orderLineId", "Duplicated order line ID.", "DUPLICATED_INPUT_ITEM",
                                      order_lines=[str(duplicate_line)]))
        by_id = {line.id: line for line in order.lines}
        requested: list[tuple[OrderLine, int]] = []
        for line_input in lines:
            line_id = line_input.get("orderLineId")
            node_pk(line_id, "OrderLine")
            line = by_id.get(str(line_id))
            if line is None:
                raise Refusal(order_error("lines", f"Couldn't resolve to a node: {line_id}", "NOT_FOUND"))
            stocks = line_input.get("stocks") or []
            total = sum(int(stock.get("quantity") or 0) for stock in stocks)
            if total > line.quantity_to_fulfill:
                left = line.quantity_to_fulfill
                raise Refusal(order_error("orderLineId", f"Only {left} item{'s' if left != 1 else ''} remaining to "
                                          "fulfill.", "FULFILL_ORDER_LINE", order_lines=[line.id]))
            for stock in stocks:
                node_pk(stock.get("warehouse"), "Warehouse")
                if stock.get("warehouse") != self.state.warehouse["id"] and int(stock.get("quantity") or 0) > 0:
                    # The fake stocks every variant in one warehouse only; elsewhere there is no stock at all.
                    raise Refusal(order_error("stocks", f"Insufficient product stock: {line.spec.sku}",
                                              "INSUFFICIENT_STOCK", order_lines=[line.id],
                                              warehouse=stock.get("warehouse")))
            requested.append((line, total))
        return requested

    def approve_fulfillments(self, caller: Caller, order: Order) -> Outcome:
        """Staff orderFulfillmentApprove of every waiting fulfilment: FULFILLMENT_CREATED, ORDER_UPDATED and,
        once all is shipped, ORDER_FULFILLED (the order seen on Saleor 3.23.28). Like fulfillment_approve.py, an
        unpaid order's fulfilment is not approved while the shop's fulfillmentAllowUnpaid is off."""
        require(caller, "MANAGE_ORDERS")
        if not self.state.shop.fulfillment_allow_unpaid and not order.is_fully_paid:
            raise Refusal(order_error(None, "Cannot fulfill unpaid order.", "CANNOT_FULFILL_UNPAID_ORDER"))
        events = []
        for fulfillment in order.fulfillments:
            if fulfillment.status == "WAITING_FOR_APPROVAL":
                fulfillment.status = "FULFILLED"
                events.append(self.emit(caller, "FULFILLMENT_CREATED", order, fulfillment=fulfillment,
                                        notify_customer=True))
        self._update_status(order)
        self.touch(order)
        events.append(self.emit(caller, "ORDER_UPDATED", order))
        if order.status == "FULFILLED":
            events.append(self.emit(caller, "ORDER_FULFILLED", order))
        return Outcome({"order": self.state.order_view(order)}, events)

    def _update_status(self, order: Order) -> None:
        # Only approved fulfilments move the status; lines waiting for approval already count as fulfilled.
        fulfilled = sum(quantity for f in order.fulfillments if f.status == "FULFILLED" for _, _, quantity in f.lines)
        total = sum(line.spec.quantity for line in order.lines)
        if fulfilled > 0:  # derived like update_order_status; an UNCONFIRMED order is not confirmed by it
            order.status = "FULFILLED" if fulfilled >= total else "PARTIALLY_FULFILLED"

    def order_fulfillment_update_tracking(self, caller: Caller, id: object, input: dict[str, Any]) -> Outcome:
        require(caller, "MANAGE_ORDERS")
        pk = node_pk(id, "Fulfillment")
        found = [(o, f) for o in self.state.orders.values() for f in o.fulfillments if str(f.pk) == pk]
        if not found:
            raise Refusal(order_error("id", f"Couldn't resolve to a node: {id}", "NOT_FOUND"))
        order, fulfillment = found[0]
        fulfillment.tracking_number = input.get("trackingNumber") or ""
        # Surprise 7: no updatedAt bump.
        events = [self.emit(caller, "FULFILLMENT_TRACKING_NUMBER_UPDATED", order, fulfillment=fulfillment),
                  self.emit(caller, "ORDER_UPDATED", order)]
        payload = self.order_payload("FulfillmentUpdateTracking", order,
                                     fulfillment=lambda _args: self.state.fulfillment_view(fulfillment))
        return Outcome(payload, events)

    # -- notes, updates, metadata --------------------------------------------------------------------------------

    def order_note_add(self, caller: Caller, order: object, input: dict[str, Any]) -> Outcome:
        require(caller, "MANAGE_ORDERS")
        target = self.order(order, "order")
        message = str(input.get("message") or "")
        if not message.strip():
            raise Refusal(simple_error("OrderNoteAddError", "message", "Message can't be empty.", "REQUIRED"))
        note = Note(self.state.next_pk("order_event"), "NOTE_ADDED", message, self.state.now(),
                    by_staff=caller.kind == "staff", app=caller.app)
        target.notes.append(note)
        self.touch(target)
        event = "DRAFT_ORDER_UPDATED" if target.status == "DRAFT" else "ORDER_UPDATED"
        payload = self.order_payload("OrderNoteAdd", target, event=lambda _args: self.state.note_view(note))
        return Outcome(payload, [self.emit(caller, event, target)])

    def order_update(self, caller: Caller, id: object, input: dict[str, Any]) -> Outcome:
        require(caller, "MANAGE_ORDERS")
        order = self.order(id, "id")
        if order.status == "DRAFT":
            raise Refusal(order_error(
                "id", "Provided order id belongs to draft order. Use `draftOrderUpdate` mutation instead.", "INVALID"))
        email = input.get("userEmail")
        if email is not None and not _EMAIL.match(str(email)):
            raise Refusal(order_error("userEmail", "Enter a valid email address.", "INVALID"))
        plain = {key for key in input if key not in ("metadata", "privateMetadata")}
        if email is not None:
            order.user_email = str(email)
        if "externalReference" in input:
            order.external_reference = input["externalReference"]
        if "languageCode" in input:
            order.language_code = str(input["languageCode"]).upper()
        for key, attribute in (("billingAddress", "billing_address"), ("shippingAddress", "shipping_address")):
            if input.get(key):
                address = dict(input[key])
                setattr(order, attribute, self.state.address(address.pop("firstName", ""),
                                                             address.pop("lastName", ""),
                                                             address.pop("phone", "") or "", **address))
        changed_meta = self._apply_metadata(order.metadata, input.get("metadata") or [])
        changed_meta |= self._apply_metadata(order.private_metadata, input.get("privateMetadata") or [])
        events = []
        if plain:
            events.append(self.emit(caller, "ORDER_UPDATED", order))
        if changed_meta:
            events.append(self.emit(caller, "ORDER_METADATA_UPDATED", order))
        if events:
            self.touch(order)
        return Outcome(self.order_payload("OrderUpdate", order), events)

    def update_metadata(self, caller: Caller, id: object, input: list[dict[str, Any]], *, private: bool) -> Outcome:
        typename = "UpdatePrivateMetadata" if private else "UpdateMetadata"
        decoded = decode_gid(id)
        if decoded is None:
            raise FieldError(f"Couldn't resolve id: {id}.")
        not_found = Refusal(simple_error("MetadataError", "id", f"Couldn't resolve to a node: {id}", "NOT_FOUND"))
        if any(not str(item.get("key") or "").strip() for item in input):
            raise Refusal(simple_error("MetadataError", "input", "Metadata key cannot be empty.", "REQUIRED"))
        if decoded[0] == "App":
            app = self.state.apps.get(int(decoded[1])) if decoded[1].isdigit() else None
            if app is None or app.deleted:
                raise not_found
            if caller.kind != "staff" and caller.app is not app:
                raise permission_denied("MANAGE_APPS")
            self._apply_metadata(app.private_metadata if private else app.metadata, input)
            return Outcome({"__typename": typename, "item": lambda _a: self.state.app_view(app), "errors": []})
        require(caller, "MANAGE_ORDERS")
        order = self.state.orders.get(decoded[1]) if decoded[0] == "Order" else None
        if order is None:
            raise not_found
        events = []
        if self._apply_metadata(order.private_metadata if private else order.metadata, input):
            self.touch(order)  # surprise 2: only ORDER_METADATA_UPDATED, updatedAt still bumped
            events.append(self.emit(caller, "ORDER_METADATA_UPDATED", order))
        return Outcome({"__typename": typename, "item": lambda _a: self.state.order_view(order), "errors": []},
                       events)

    def delete_metadata(self, caller: Caller, id: object, keys: list[str], *, private: bool) -> Outcome:
        """Orders only (what the app deletes): ORDER_METADATA_UPDATED when a key was there."""
        typename = "DeletePrivateMetadata" if private else "DeleteMetadata"
        decoded = decode_gid(id)
        if decoded is None:
            raise FieldError(f"Couldn't resolve id: {id}.")
        require(caller, "MANAGE_ORDERS")
        order = self.state.orders.get(decoded[1]) if decoded[0] == "Order" else None
        if order is None:
            raise Refusal(simple_error("MetadataError", "id", f"Couldn't resolve to a node: {id}", "NOT_FOUND"))
        target = order.private_metadata if private else order.metadata
        removed = [key for key in keys if target.pop(str(key), None) is not None]
        events = []
        if removed:
            self.touch(order)
            events.append(self.emit(caller, "ORDER_METADATA_UPDATED", order))
        return Outcome({"__typename": typename, "item": lambda _a: self.state.order_view(order), "errors": []},
                       events)

    @staticmethod
    def _apply_metadata(target: dict[str, str], items: list[dict[str, Any]]) -> bool:
        before = dict(target)
        for item in items:
            target[str(item["key"])] = str(item.get("value") or "")
        return before != target

    # -- webhooks ------------------------------------------------------------------------------------------------

    def webhook_create(self, caller: Caller, input: dict[str, Any]) -> Outcome:
        require(caller, "AUTHENTICATED_APP", "MANAGE_APPS")
        app = caller.app
        if caller.kind == "staff":
            app_pk = node_pk(input.get("app"), "App")
            app = self.state.apps.get(int(app_pk)) if app_pk.isdigit() else None
        if app is None:
            raise Refusal(simple_error("WebhookError", "app", f"Couldn't resolve to a node: {input.get('app')}",
                                       "NOT_FOUND"))
        self._check_webhook(input)
        hook = Webhook(self.state.next_pk("webhook"), str(input.get("name") or ""), str(input.get("targetUrl")),
                       list(input.get("asyncEvents") or []), str(input.get("query") or ""),
                       bool(input.get("isActive", True)), input.get("identifier"))
        app.webhooks.append(hook)
        return Outcome({"__typename": "WebhookCreate", "webhook": self.state.webhook_view(app, hook), "errors": []})

    def webhook_update(self, caller: Caller, id: object, input: dict[str, Any]) -> Outcome:
        require(caller, "AUTHENTICATED_APP", "MANAGE_APPS")
        pk = node_pk(id, "Webhook")
        apps = self.state.live_apps() if caller.kind == "staff" else [caller.app] if caller.app else []
        found = [(app, hook) for app in apps for hook in app.webhooks if str(hook.pk) == pk]
        if not found:
            raise Refusal(simple_error("WebhookError", "id", f"Couldn't resolve to a node: {id}", "NOT_FOUND"))
        app, hook = found[0]
        self._check_webhook(input)
        for key, attribute in (("name", "name"), ("targetUrl", "target_url"), ("query", "query"),
                               ("isActive", "is_active"), ("identifier", "identifier")):
            if key in input and input[key] is not None:
                setattr(hook, attribute, input[key])
        if input.get("asyncEvents") is not None:
            hook.async_events = list(input["asyncEvents"])
        return Outcome({"__typename": "WebhookUpdate", "webhook": self.state.webhook_view(app, hook), "errors": []})

    def _check_webhook(self, input: dict[str, Any]) -> None:
        target = input.get("targetUrl")
        if target is not None and not str(target).startswith(_WEBHOOK_SCHEMES):
            raise Refusal(simple_error("WebhookError", "targetUrl", "Enter a valid URL.", "INVALID"))
        if input.get("query") is not None:
            problem = subscription_problem(str(input["query"]), self.schema)
            if problem:
                raise Refusal(simple_error("WebhookError", "query", f"Subscription query is not valid: {problem}",
                                           "INVALID"))

    # -- the app's own lifecycle ---------------------------------------------------------------------------------

    def app_delete(self, caller: Caller, app: App) -> Outcome:
        app.deleted, app.is_active = True, False
        return Outcome({"app": self.state.app_view(app)}, [self.emit(caller, "APP_DELETED", subject_app=app)])

    def app_set_active(self, caller: Caller, app: App, active: bool) -> Outcome:
        if app.is_active == active:
            return Outcome({"app": self.state.app_view(app)})
        app.is_active = active
        return Outcome({"app": self.state.app_view(app)}, [self.emit(caller, "APP_STATUS_CHANGED", subject_app=app)])
