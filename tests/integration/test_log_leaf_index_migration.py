"""Revision 0017_store4_leaf_index moves the decision log's leaf indexes out of ``log_entries``, on SQLite
and PostgreSQL: entries integrated under 0016 keep their leaf index (in ``log_leaves``), pending ones are
queued in ``log_pending`` and integrated next, the log still verifies and proves inclusion, and the
downgrade puts the indexes back on the entry rows."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command

from scoring_service.audit import verify_log
from scoring_service.sequencer import Sequencer
from scoring_service.storage.log import EntryKind, LogEntry, LogStore
from tanxiao.platform import db
from tanxiao.translog import CompactRange, SigningKey, generate_private_key_pem, verify_inclusion

BEFORE = "0016_pgpart"
CREATED = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


def _entries() -> list[LogEntry]:
    return [
        LogEntry.build(EntryKind.REVIEW_ACTION, {"n": i}, now=CREATED + dt.timedelta(seconds=i))
        for i in range(3)
    ]


def _store_under_0016(engine: sa.Engine, entries: list[LogEntry], integrated: int) -> None:
    """The first ``integrated`` entries numbered (with their tree nodes) as 0016's sequencer left them,
    the rest pending (idx NULL)."""
    tree, nodes = CompactRange(), []
    for entry in entries[:integrated]:
        nodes += tree.extend([bytes.fromhex(entry.leaf_hash)])
    integrate_time = CREATED + dt.timedelta(seconds=10)
    with engine.begin() as connection:
        for i, entry in enumerate(entries):
            index = i if i < integrated else None
            connection.execute(
                sa.text(
                    "INSERT INTO log_entries (entry_id, kind, content, leaf_hash, create_time, idx,"
                    " integrate_time) VALUES (:id, :kind, :content, :leaf, :created, :idx, :integrated)"
                ),
                {"id": entry.entry_id, "kind": entry.kind.value, "content": entry.content,
                 "leaf": entry.leaf_hash, "created": entry.create_time, "idx": index,
                 "integrated": None if index is None else integrate_time},
            )  # fmt: skip
        for level, index, value in nodes:
            connection.execute(
                sa.text("INSERT INTO log_nodes (level, idx, hash) VALUES (:level, :idx, :hash)"),
                {"level": level, "idx": index, "hash": value.hex()},
            )


def test_leaf_indexes_move_to_log_leaves_and_back(empty_db_url: str) -> None:
    config = db.alembic_config(empty_db_url)
    command.upgrade(config, BEFORE)
    engine = db.make_engine(empty_db_url)
    try:
        entries = _entries()
        _store_under_0016(engine, entries, integrated=2)
        command.upgrade(config, "head")

        with engine.connect() as connection:
            leaves = connection.execute(sa.text("SELECT idx, entry_id FROM log_leaves ORDER BY idx")).all()
            pending = connection.execute(sa.text("SELECT entry_id, leaf_hash FROM log_pending")).all()
        assert [(int(i), e) for i, e in leaves] == [(0, entries[0].entry_id), (1, entries[1].entry_id)]
        assert [tuple(p) for p in pending] == [(entries[2].entry_id, entries[2].leaf_hash)]

        assert Sequencer(engine, SigningKey.from_pem(generate_private_key_pem())).integrate() == 1
        report = verify_log(engine)
        assert report.ok, report.problems
        store = LogStore(engine)
        for i, entry in enumerate(entries):
            inclusion = store.inclusion(entry.entry_id)
            assert inclusion.entry.index == i and inclusion.entry.content == entry.content
            verify_inclusion(
                i, inclusion.head.tree_size, bytes.fromhex(entry.leaf_hash), inclusion.proof,
                inclusion.head.root_hash,
            )  # fmt: skip

        if engine.dialect.name == "postgresql":  # entries over the TOAST threshold: lz4 from now on
            wide = store.append(EntryKind.REVIEW_ACTION, {"note": "绿色信贷 " * 400})
            with engine.connect() as connection:
                method = connection.execute(
                    sa.text("SELECT pg_column_compression(content) FROM log_entries WHERE entry_id = :id"),
                    {"id": wide.entry_id},
                ).scalar_one()
            assert method == "lz4"

        command.downgrade(config, BEFORE)
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT entry_id, idx FROM log_entries ORDER BY idx")).all()
            tables = set(sa.inspect(connection).get_table_names())
        integrated = [(e, int(i)) for e, i in rows if i is not None]
        assert integrated == [(entry.entry_id, i) for i, entry in enumerate(entries)]
        assert not {"log_leaves", "log_pending"} & tables
    finally:
        engine.dispose()
