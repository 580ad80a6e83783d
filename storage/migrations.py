"""Numbered schema migrations, applied in order and recorded in ``schema_migrations``.

Append new migrations at the end; never edit one that has shipped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step."""

    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "messages, replies, identities, threads, usage",
        """
        CREATE TABLE identities (
            alias      TEXT PRIMARY KEY,     -- a bare JID the person was seen as
            canonical  TEXT NOT NULL,        -- the one key the bot files them under
            created_at REAL NOT NULL
        );
        CREATE INDEX identities_canonical ON identities (canonical);

        CREATE TABLE messages (
            id          INTEGER PRIMARY KEY,
            chat        TEXT NOT NULL,       -- canonical sender (private) or group JID
            chat_jid    TEXT NOT NULL,       -- where replies go
            wa_id       TEXT NOT NULL,       -- WhatsApp message id
            sender      TEXT NOT NULL,       -- canonical sender
            sender_name TEXT NOT NULL DEFAULT '',
            kind        TEXT NOT NULL,
            text        TEXT NOT NULL,
            is_group    INTEGER NOT NULL DEFAULT 0,
            sent_at     REAL NOT NULL,       -- WhatsApp's timestamp (unix seconds)
            received_at REAL NOT NULL,       -- when the bot stored it (unix seconds)
            state       TEXT NOT NULL
                        CHECK (state IN ('received', 'answered', 'failed', 'ignored')),
            reason      TEXT,                -- why ignored or failed
            in_context  INTEGER NOT NULL DEFAULT 1,
            UNIQUE (chat, wa_id)
        );
        CREATE INDEX messages_chat ON messages (chat, id);
        CREATE INDEX messages_received ON messages (received_at) WHERE state = 'received';
        CREATE INDEX messages_sender_time ON messages (sender, received_at);

        CREATE TABLE replies (
            id         INTEGER PRIMARY KEY,
            chat       TEXT NOT NULL,
            message_id INTEGER REFERENCES messages (id) ON DELETE SET NULL,
            kind       TEXT NOT NULL DEFAULT 'answer',  -- answer, error, command, notice, reminder
            text       TEXT NOT NULL,
            wa_ids     TEXT NOT NULL DEFAULT '[]',       -- JSON list of sent WhatsApp ids
            created_at REAL NOT NULL,
            in_context INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX replies_chat ON replies (chat, id);
        CREATE INDEX replies_message ON replies (message_id);

        CREATE TABLE threads (
            id         INTEGER PRIMARY KEY,
            chat       TEXT NOT NULL,
            backend    TEXT NOT NULL,        -- assistants | responses
            remote_id  TEXT NOT NULL,        -- thread_... | conv_...
            created_at REAL NOT NULL,
            active     INTEGER NOT NULL DEFAULT 1
        );
        CREATE UNIQUE INDEX threads_active ON threads (chat, backend) WHERE active = 1;

        CREATE TABLE usage (
            id                INTEGER PRIMARY KEY,
            chat              TEXT NOT NULL,
            sender            TEXT NOT NULL,
            message_id        INTEGER,
            mode              TEXT NOT NULL,
            model             TEXT NOT NULL,
            prompt_tokens     INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            total_tokens      INTEGER NOT NULL,
            created_at        REAL NOT NULL
        );
        CREATE INDEX usage_chat_time ON usage (chat, created_at);
        CREATE INDEX usage_sender_time ON usage (sender, created_at);
        """,
    ),
    Migration(
        2,
        "tool calls and reminders",
        """
        CREATE TABLE tool_calls (
            id          INTEGER PRIMARY KEY,
            chat        TEXT NOT NULL,
            message_id  INTEGER,
            tool        TEXT NOT NULL,
            duration_ms REAL NOT NULL,
            ok          INTEGER NOT NULL,
            error       TEXT,
            created_at  REAL NOT NULL
        );
        CREATE INDEX tool_calls_chat ON tool_calls (chat, created_at);

        CREATE TABLE reminders (
            id         INTEGER PRIMARY KEY,
            chat       TEXT NOT NULL,
            chat_jid   TEXT NOT NULL,
            sender     TEXT NOT NULL,
            text       TEXT NOT NULL,
            due_at     REAL NOT NULL,
            created_at REAL NOT NULL,
            state      TEXT NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'sent', 'cancelled')),
            sent_at    REAL,
            late       INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX reminders_due ON reminders (due_at) WHERE state = 'pending';
        CREATE INDEX reminders_chat ON reminders (chat, state);
        """,
    ),
    Migration(
        3,
        "per-chat state: pause, owner hand-off, pending confirmations, limit notices",
        """
        CREATE TABLE chat_state (
            chat            TEXT PRIMARY KEY,
            paused          INTEGER NOT NULL DEFAULT 0,
            handoff_until   REAL,
            forget_asked_at REAL,
            notice_until    REAL,            -- a limit notice was sent; silent until then
            updated_at      REAL NOT NULL
        );
        CREATE TABLE bot_state (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    ),
    Migration(
        4,
        "index for the context query",
        """
        -- A busy group with many ignored messages made context() scan them all (24 ms for
        -- 100,000 ignored rows in the storage benchmark); this index skips them.
        CREATE INDEX messages_context ON messages (chat, id)
            WHERE state = 'answered' AND in_context = 1;
        """,
    ),
    Migration(
        5,
        "drop chat_state.notice_until (limit notices are kept per sender in bot_state)",
        """
        ALTER TABLE chat_state DROP COLUMN notice_until;
        """,
    ),
    Migration(
        6,
        "replies recorded before they are sent: their parts and how many are out",
        """
        -- A reply is written with its parts (JSON, as split for WhatsApp) before the first
        -- send; parts_sent is raised just before each part is sent, its id appended to
        -- wa_ids after; parts goes back to NULL once every part is out. A start after a
        -- crash sends only parts[parts_sent:] of the rows still holding parts.
        ALTER TABLE replies ADD COLUMN parts TEXT;
        ALTER TABLE replies ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX replies_unsent ON replies (id) WHERE parts IS NOT NULL;
        """,
    ),
    Migration(
        7,
        "responses chained by previous_response_id, one row per stored response",
        """
        CREATE TABLE response_chain (
            id          INTEGER PRIMARY KEY,
            chat        TEXT NOT NULL,
            response_id TEXT NOT NULL,       -- resp_... the next turn continues from
            created_at  REAL NOT NULL,
            active      INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX response_chain_chat ON response_chain (chat, active, id);
        """,
    ),
    Migration(
        8,
        "cached prompt tokens in the usage records",
        """
        ALTER TABLE usage ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;
        """,
    ),
    Migration(
        9,
        "the knowledge base: the bot's vector store and the files in it, by content hash",
        """
        CREATE TABLE knowledge_store (
            id              INTEGER PRIMARY KEY CHECK (id = 1),  -- one store per bot
            vector_store_id TEXT NOT NULL,
            created_at      REAL NOT NULL
        );
        CREATE TABLE knowledge_files (
            name            TEXT PRIMARY KEY,   -- the file's name as the operator added it
            sha256          TEXT NOT NULL,
            file_id         TEXT NOT NULL,      -- file-... on the server
            vector_store_id TEXT NOT NULL,
            bytes           INTEGER NOT NULL,
            status          TEXT NOT NULL,      -- in_progress | completed | failed | cancelled
            error           TEXT,
            added_at        REAL NOT NULL
        );
        """,
    ),
    Migration(
        10,
        "files the bot uploaded for a chat (deleted by /forget and after FILE_RETENTION_DAYS)",
        """
        CREATE TABLE chat_files (
            id          INTEGER PRIMARY KEY,
            chat        TEXT NOT NULL,
            file_id     TEXT NOT NULL,
            purpose     TEXT NOT NULL,
            created_at  REAL NOT NULL
        );
        CREATE INDEX chat_files_chat ON chat_files (chat);
        CREATE INDEX chat_files_created ON chat_files (created_at);
        """,
    ),
    Migration(
        11,
        "actions waiting for a person's yes (Google tools)",
        """
        -- send_email, delete_event and invitations run only on the same person's "yes" in
        -- the same chat before expires_at; the row is deleted when taken.
        CREATE TABLE pending_actions (
            id         INTEGER PRIMARY KEY,
            chat       TEXT NOT NULL,
            sender     TEXT NOT NULL,
            tool       TEXT NOT NULL,
            arguments  TEXT NOT NULL,    -- JSON, attachments included (base64)
            summary    TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL
        );
        CREATE INDEX pending_actions_who ON pending_actions (chat, sender, id);
        """,
    ),
    Migration(
        12,
        "the record of actions executed on the owner's Google account",
        """
        CREATE TABLE google_actions (
            id          INTEGER PRIMARY KEY,
            chat        TEXT NOT NULL,
            sender      TEXT NOT NULL,
            tool        TEXT NOT NULL,
            summary     TEXT NOT NULL,     -- what was done, without message bodies
            result_id   TEXT,              -- Gmail message id or Calendar event id
            ok          INTEGER NOT NULL,
            error       TEXT,
            executed_at REAL NOT NULL
        );
        CREATE INDEX google_actions_chat ON google_actions (chat, executed_at);
        """,
    ),
)
