"""What each opportunity depends on, as data, so indices can cap shared risk.

Ten pools that all rest on one protocol, one stablecoin issuer or one bridge are one
bet. For every opportunity this lists the protocol family, the chain, the underlying
tokens, the issuers standing behind pegged tokens (stablecoin, LST and wrapped-token
issuers), the reward tokens and the bridge a chain's assets arrive through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from realyield.core.model import Opportunity
from realyield.reference import ChainFacts, ProtocolFacts, TokenFacts

#: The protocol slug of a network's own (native or delegated) staking routes.
NATIVE_STAKING = "native-staking"


@dataclass(frozen=True, slots=True)
class Dependencies:
    """The shared-risk keys of one opportunity."""

    protocol: str
    chain: str
    tokens: tuple[str, ...]
    issuers: tuple[str, ...]
    reward_tokens: tuple[str, ...]
    bridge: str | None

    def keys(self) -> tuple[str, ...]:
        """Flat ``kind:value`` keys (``protocol:aave``, ``issuer:circle``...) for caps."""
        out = [f"protocol:{self.protocol}", f"chain:{self.chain}"]
        out += [f"issuer:{i}" for i in self.issuers]
        out += [f"reward:{r}" for r in self.reward_tokens]
        if self.bridge:
            out.append(f"bridge:{self.bridge}")
        return tuple(out)

    def as_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "chain": self.chain,
            "tokens": list(self.tokens),
            "issuers": list(self.issuers),
            "reward_tokens": list(self.reward_tokens),
            "bridge": self.bridge,
        }


def dependencies_of(
    opp: Opportunity,
    tokens: Sequence[str],
    facts: Sequence[TokenFacts],
    protocol: ProtocolFacts | None,
    chain: ChainFacts | None,
) -> Dependencies:
    """Dependencies of one opportunity from its symbol's token facts and the tables."""
    issuers = sorted({t.issuer for t in facts if t.kind != "native" and t.issuer})
    bridged = any(s.upper().endswith(".E") for s in tokens)
    bridge = None
    if chain is not None and chain.bridge_dependency:
        bridge = f"{chain.chain.lower()}-bridge"
    elif bridged:
        bridge = f"{opp.chain.lower()}-bridged-tokens"
    family = protocol.family if protocol is not None else opp.protocol
    if opp.kind == "staking" and family == NATIVE_STAKING:
        # a network's own staking rests on that network's validators, not on a contract
        # shared with other networks: staking ETH and staking ADA are two bets
        family = f"{family}-{opp.chain.lower()}"
    return Dependencies(
        protocol=family,
        chain=opp.chain,
        tokens=tuple(tokens),
        issuers=tuple(issuers),
        reward_tokens=tuple(opp.reward_tokens),
        bridge=bridge,
    )
