"""SaleorOrderGateway: the OrderGateway port over GraphQL, mutation errors mapped to SaleorRefusal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from saleor_app.domain.errors import SaleorFieldError, SaleorRefusal
from saleor_app.domain.ports import FulfillmentLine
from saleor_app.saleor.graphql_client import SaleorGraphQLClient

PAGE_LIMIT = 100  # Saleor refuses `first` above 100 (GRAPHQL_PAGINATION_LIMIT)


class SaleorOrderGateway:
    def __init__(self, client: SaleorGraphQLClient) -> None:
        self._client = client

    async def get_order(self, order_id: str) -> dict[str, Any] | None:
        data = await self._client.execute("OrderById", {"id": order_id})
        order = data.get("order")
        return dict(order) if order else None

    async def get_orders(self, order_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not order_ids:
            return {}
        if len(order_ids) > PAGE_LIMIT:
            raise ValueError(f"at most {PAGE_LIMIT} orders a call, got {len(order_ids)}")
        data = await self._client.execute("OrdersFullByIds", {"ids": list(order_ids), "first": len(order_ids)})
        return {str(node["id"]): node for node in _nodes(data.get("orders") or {})}

    async def orders_updated_since(
        self, since: datetime, *, after: str | None = None, first: int = 100
    ) -> tuple[list[dict[str, Any]], str | None]:
        variables = {"since": since.isoformat(), "first": min(first, PAGE_LIMIT), "after": after}
        connection = (await self._client.execute("OrdersUpdatedSince", variables)).get("orders") or {}
        page_info = connection.get("pageInfo") or {}
        next_cursor = page_info.get("endCursor") if page_info.get("hasNextPage") else None
        return _nodes(connection), next_cursor

    async def orders_by_ids(self, order_ids: Sequence[str]) -> list[dict[str, Any]]:
        if not order_ids:
            return []
        if len(order_ids) > PAGE_LIMIT:
            raise ValueError(f"at most {PAGE_LIMIT} orders a call, got {len(order_ids)}")
        data = await self._client.execute("OrdersByIds", {"ids": list(order_ids), "first": len(order_ids)})
        return _nodes(data.get("orders") or {})

    async def order_id_by_number(self, number: str) -> str | None:
        nodes = _nodes((await self._client.execute("OrderIdByNumber", {"number": number})).get("orders") or {})
        return str(nodes[0]["id"]) if nodes else None

    async def shop_settings(self) -> dict[str, Any]:
        return dict((await self._client.execute("ShopFulfillmentSettings", {})).get("shop") or {})

    async def confirm(self, order_id: str) -> dict[str, Any]:
        return await self._mutate("OrderConfirm", "orderConfirm", {"id": order_id})

    async def mark_as_paid(self, order_id: str, transaction_reference: str | None = None) -> dict[str, Any]:
        variables = {"id": order_id, "transactionReference": transaction_reference}
        return await self._mutate("OrderMarkAsPaid", "orderMarkAsPaid", variables)

    async def fulfill(
        self,
        order_id: str,
        lines: Sequence[FulfillmentLine],
        *,
        notify_customer: bool = True,
        tracking_number: str | None = None,
    ) -> dict[str, Any]:
        by_line: dict[str, list[dict[str, Any]]] = {}
        for line in lines:
            by_line.setdefault(line.order_line_id, []).append(
                {"warehouse": line.warehouse_id, "quantity": line.quantity}
            )
        fulfill_input: dict[str, Any] = {
            "lines": [{"orderLineId": line_id, "stocks": stocks} for line_id, stocks in by_line.items()],
            "notifyCustomer": notify_customer,
        }
        if tracking_number:
            fulfill_input["trackingNumber"] = tracking_number
        return await self._mutate("OrderFulfill", "orderFulfill", {"order": order_id, "input": fulfill_input})

    async def cancel(self, order_id: str) -> dict[str, Any]:
        return await self._mutate("OrderCancel", "orderCancel", {"id": order_id})

    async def add_note(self, order_id: str, message: str) -> dict[str, Any]:
        return await self._mutate("OrderNoteAdd", "orderNoteAdd", {"order": order_id, "message": message})

    async def update(self, order_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        return await self._mutate("OrderUpdate", "orderUpdate", {"id": order_id, "input": dict(fields)})

    async def update_private_metadata(self, object_id: str, items: Mapping[str, str]) -> dict[str, Any]:
        variables = {"id": object_id, "input": [{"key": k, "value": v} for k, v in items.items()]}
        return await self._mutate("UpdatePrivateMetadata", "updatePrivateMetadata", variables)

    async def update_metadata(self, object_id: str, items: Mapping[str, str]) -> dict[str, Any]:
        variables = {"id": object_id, "input": [{"key": k, "value": v} for k, v in items.items()]}
        return await self._mutate("UpdateMetadata", "updateMetadata", variables)

    async def delete_metadata(self, object_id: str, keys: Sequence[str]) -> dict[str, Any]:
        return await self._mutate("DeleteMetadata", "deleteMetadata", {"id": object_id, "keys": list(keys)})

    async def delete_private_metadata(self, object_id: str, keys: Sequence[str]) -> dict[str, Any]:
        return await self._mutate("DeletePrivateMetadata", "deletePrivateMetadata", {"id": object_id,
                                                                                     "keys": list(keys)})

    async def _mutate(self, document: str, field: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        data = await self._client.execute(document, variables)
        payload = data.get(field) or {}
        errors = payload.get("errors") or []
        if errors:
            raise SaleorRefusal(
                field,
                [SaleorFieldError(e.get("code"), e.get("field"), e.get("message")) for e in errors],
            )
        return dict(payload)


def _nodes(connection: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(edge["node"]) for edge in connection.get("edges") or [] if edge and edge.get("node")]


class SaleorAppProblems:
    """AppProblems over GraphQL with the app token: the Dashboard lists them beside the app (Saleor 3.22+)."""

    def __init__(self, client: SaleorGraphQLClient) -> None:
        self._client = client

    async def report(self, key: str, message: str, *, aggregation_minutes: int) -> None:
        variables = {"input": {"key": key, "message": message, "aggregationPeriod": aggregation_minutes}}
        await _mutate(self._client, "AppProblemCreate", "appProblemCreate", variables)

    async def dismiss(self, keys: Sequence[str]) -> None:
        await _mutate(self._client, "AppProblemDismiss", "appProblemDismiss", {"keys": list(keys)})


async def _mutate(client: SaleorGraphQLClient, document: str, field: str, variables: Mapping[str, Any]
                  ) -> dict[str, Any]:
    payload = (await client.execute(document, variables)).get(field) or {}
    errors = payload.get("errors") or []
    if errors:
        raise SaleorRefusal(field, [SaleorFieldError(e.get("code"), e.get("field"), e.get("message")) for e in errors])
    return dict(payload)
