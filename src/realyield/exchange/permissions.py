"""What an API key may do, where the exchange says so: realyield refuses keys that can
withdraw.

Why: rebalancing needs to trade, never to move funds out. A key that can withdraw turns
any bug, leaked log or compromised machine into a loss of the whole account; a
trade-only key limits the worst case to bad trades. Exchanges that report a key's
permissions through their API are asked; for the others the answer is "unknown" and
the live-trading confirmation says so.

Each reader takes the raw response of the exchange's own endpoint (called through the
ccxt object's implicit API method) and returns ``KeyPermissions``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True)
class KeyPermissions:
    """``can_withdraw``/``can_trade``: True, False, or None when the exchange does not
    say. ``source`` names the endpoint the answer came from."""

    can_withdraw: bool | None
    can_trade: bool | None
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "can_withdraw": self.can_withdraw,
            "can_trade": self.can_trade,
            "source": self.source,
        }


def _binance(api: Any) -> KeyPermissions:
    data = api.sapi_get_account_apirestrictions()
    return KeyPermissions(
        can_withdraw=bool(data.get("enableWithdrawals")),
        can_trade=bool(data.get("enableSpotAndMarginTrading")),
        source="binance GET /sapi/v1/account/apiRestrictions",
    )


def _okx(api: Any) -> KeyPermissions:
    data = (api.private_get_account_config().get("data") or [{}])[0]
    perms = {p.strip() for p in str(data.get("perm", "")).split(",") if p.strip()}
    return KeyPermissions(
        can_withdraw="withdraw" in perms,
        can_trade="trade" in perms,
        source="okx GET /api/v5/account/config",
    )


def _bybit(api: Any) -> KeyPermissions:
    result = api.private_get_v5_user_query_api().get("result") or {}
    perms = result.get("permissions") or {}
    flat = [str(p).lower() for values in perms.values() for p in (values or [])]
    return KeyPermissions(
        can_withdraw=any("withdraw" in p for p in flat),
        can_trade=str(result.get("readOnly")) == "0",
        source="bybit GET /v5/user/query-api",
    )


def _coinbase(api: Any) -> KeyPermissions:
    data = api.v3_private_get_brokerage_key_permissions()
    return KeyPermissions(
        can_withdraw=bool(data.get("can_transfer")),
        can_trade=bool(data.get("can_trade")),
        source="coinbase GET /api/v3/brokerage/key_permissions",
    )


READERS: Final[Mapping[str, Callable[[Any], KeyPermissions]]] = {
    "binance": _binance,
    "okx": _okx,
    "bybit": _bybit,
    "coinbase": _coinbase,
}


def unknown(exchange_id: str) -> KeyPermissions:
    return KeyPermissions(None, None, f"{exchange_id} does not report key permissions")
