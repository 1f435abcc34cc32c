"""DecisionLog over gRPC: signed tree heads, inclusion proofs by decision, consistency proofs.

Each method validates, makes one LogStore call and converts at the edge.
"""

from __future__ import annotations

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from scoring_service.convert import decision_name, parse_decision_name
from scoring_service.storage.decisions import DecisionStore
from scoring_service.storage.log import EntryKind, LogStore
from tanxiao.errors import ValidationError
from tanxiao.scoring.v1 import decision_log_pb2, decision_log_pb2_grpc
from tanxiao.translog import SignedTreeHead

SERVICE = "tanxiao.scoring.v1.DecisionLog"


def head_to_proto(sth: SignedTreeHead, public_key: bytes | None) -> decision_log_pb2.SignedTreeHead:
    stamp = Timestamp()
    stamp.FromMilliseconds(sth.head.timestamp_ms)
    return decision_log_pb2.SignedTreeHead(
        tree_size=sth.tree_size,
        root_hash=sth.root_hash,
        timestamp=stamp,
        timestamp_ms=sth.head.timestamp_ms,
        key_id=sth.key_id,
        signature=sth.signature,
        public_key=public_key or b"",
    )


class DecisionLogServicer(decision_log_pb2_grpc.DecisionLogServicer):
    def __init__(self, log: LogStore, decisions: DecisionStore) -> None:
        self.log = log
        self.decisions = decisions

    def GetSignedTreeHead(
        self, request: decision_log_pb2.GetSignedTreeHeadRequest, context: grpc.ServicerContext
    ) -> decision_log_pb2.SignedTreeHead:
        sth = self.log.latest_head()
        return head_to_proto(sth, self._key(sth.key_id))

    def GetInclusionProof(
        self, request: decision_log_pb2.GetInclusionProofRequest, context: grpc.ServicerContext
    ) -> decision_log_pb2.InclusionProof:
        decision_id = parse_decision_name(request.decision, "decision")
        if request.tree_size < 0:
            raise ValidationError.for_field("tree_size", "must be >= 0 (0 = the latest head)")
        decision = self.decisions.get(decision_id)  # NOT_FOUND for an unknown decision
        found = self.log.inclusion(decision_id, request.tree_size)
        if found.entry.kind is not EntryKind.DECISION:
            raise ValidationError.for_field("decision", "names a log entry that is not a decision")
        return decision_log_pb2.InclusionProof(
            decision=decision_name(decision_id),
            lender=decision.lender,
            leaf_index=found.entry.index or 0,
            leaf_hash=bytes.fromhex(found.entry.leaf_hash),
            hashes=found.proof,
            signed_tree_head=head_to_proto(found.head, self._key(found.head.key_id)),
            entry_kind=found.entry.kind.value,
            entry_content=found.entry.content,
        )

    def GetConsistencyProof(
        self, request: decision_log_pb2.GetConsistencyProofRequest, context: grpc.ServicerContext
    ) -> decision_log_pb2.ConsistencyProof:
        if request.first_tree_size < 1:
            raise ValidationError.for_field("first_tree_size", "must be >= 1 (the size of a signed head)")
        if request.second_tree_size < 0:
            raise ValidationError.for_field("second_tree_size", "must be >= 0 (0 = the latest head)")
        if request.second_tree_size and request.second_tree_size < request.first_tree_size:
            raise ValidationError.for_field("second_tree_size", "must be >= first_tree_size (or 0)")
        first, second, proof = self.log.consistency(request.first_tree_size, request.second_tree_size)
        return decision_log_pb2.ConsistencyProof(
            first_tree_size=first.tree_size,
            hashes=proof,
            first=head_to_proto(first, self._key(first.key_id)),
            second=head_to_proto(second, self._key(second.key_id)),
        )

    def _key(self, key_id: str) -> bytes | None:
        return self.log.public_keys().get(key_id)
