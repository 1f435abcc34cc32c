"""Log entry ids keep the format of ``uuid.uuid4().hex`` (decision names: decisions/{32 hex})."""

from __future__ import annotations

import uuid

from scoring_service.storage.log import new_entry_id


def test_entry_ids_are_random_uuid4_hex() -> None:
    ids = [new_entry_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for entry_id in ids:
        parsed = uuid.UUID(hex=entry_id)
        assert parsed.hex == entry_id and len(entry_id) == 32 and entry_id.isalnum()
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    # every other bit varies: the 122 random bits are not stuck
    ored = andd = int(ids[0], 16)
    for entry_id in ids[1:]:
        ored |= int(entry_id, 16)
        andd &= int(entry_id, 16)
    fixed = ored ^ andd ^ ((1 << 128) - 1)  # bits equal in every id
    assert fixed == (0xF << 76) | (0x3 << 62)  # just the version nibble and the variant's two bits
