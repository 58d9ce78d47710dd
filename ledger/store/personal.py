"""Personal data in events, erasable: contact names and e-mail addresses sealed with a key per
contact (crypto-shredding).

A contact's name and e-mail address are written into events (and from there into the views)
as *sealed* strings: AES-GCM ciphertext under a random 256-bit key of that contact's own,
named by the key's id. The keys live in ``contact_keys``, beside the event log and never in
it; a contact is found by a SHA-256 digest of its normalised address. Deleting a contact's key
erases it: every sealed string under that key reads ``[erased]`` from then on, in history,
views, exports and replays, while the events themselves (and the hash chain over their stored
bytes) stay as they were.

A sealed string starts with a control character (``\\x01``) that input validation refuses in
every text field, so no input can pass for one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn
from uuid import uuid4

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import AggregateRecorder
from eventsourcing.sqlite import SQLiteCursor

from ledger.store.chain import HashedSQLiteRecorder
from ledger.store.log import KEYS_WRITTEN_DDL, ConcurrentPostgresRecorder
from ledger.store.schema import placeholders, schema_lock
from ledger.store.stale import StaleReadError

ERASED = "[erased]"
"""What a sealed string whose key was deleted reads as."""
MARK = "\x01sealed:"
JSON_MARK = "\\u0001sealed:"
"""The mark as JSON text writes it (control characters are always escaped)."""
_SEALED = re.compile(r"\x01sealed:[0-9a-f]{32}:[A-Za-z0-9_-]+")
_JSON_SEALED = re.compile(r"\\u0001sealed:[0-9a-f]{32}:[A-Za-z0-9_-]+")
ERASURES_TTL_SECONDS = 1.0
"""How long a process trusts its cache of keys before it looks whether another process
erased one (an erasure made here shows at once); an erasure waits this long before it
answers, so that once it has, every process seals that person's data under a new key."""

OPENED_CACHE = 100_000
"""Sealed strings this process keeps opened (dropped whole when full, and on any erasure)."""

TABLES = [
    "CREATE TABLE IF NOT EXISTS contact_keys (key_id TEXT PRIMARY KEY, "
    "lookup TEXT NOT NULL UNIQUE, secret {blob} NOT NULL, created_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS contact_erasures (key_id TEXT PRIMARY KEY, "
    "erased_at TEXT NOT NULL)",
]

SELECT_KEY = (
    "SELECT e.n AS erasures, k.key_id, k.secret "
    "FROM (SELECT COUNT(*) AS n FROM contact_erasures) AS e "
    "LEFT JOIN contact_keys AS k ON k.lookup = ?"
)
"""A contact's key (key id and key NULL when it has none), and the number of erasures made
so far: always one row."""
INSERT_KEY = (
    "INSERT INTO contact_keys (key_id, lookup, secret, created_at) "
    "SELECT ?, ?, ?, ? WHERE (SELECT COUNT(*) FROM contact_erasures) = ? "
    "ON CONFLICT (lookup) DO NOTHING"
)
"""A contact's key row made if there is none and no erasure came since this process last
looked."""


def lookup_of(email: str) -> str:
    """How the key table finds a contact: a digest of its normalised address, not the address."""
    return hashlib.sha256(b"claim-ledger contact\x00" + email.strip().lower().encode()).hexdigest()


def key_ids(texts: Iterable[str]) -> set[str]:
    """The key ids the sealed strings inside these texts are sealed under."""
    found: set[str] = set()
    for text in texts:
        for match in _SEALED.finditer(text):
            found.add(match.group(0)[len(MARK) :].split(":", 1)[0])
        for match in _JSON_SEALED.finditer(text):
            found.add(match.group(0)[len(JSON_MARK) :].split(":", 1)[0])
    return found


class KeyRing:
    """The contacts' keys, in the database of the event store."""

    def __init__(self, recorder: AggregateRecorder, env: Mapping[str, str]) -> None:
        self.datastore: Any = getattr(recorder, "datastore", None)
        self.is_postgres = env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres"
        self._keys: dict[str, bytes | None] = {}  # key id -> key (None: erased)
        self._by_lookup: dict[str, tuple[str, bytes]] = {}  # lookup -> (key id, key)
        self._opened: dict[str, str] = {}  # sealed string -> its value (a claim is read often)
        self._erasures: tuple[float, int] = (0.0, -1)
        self._drops = 0  # how many times the opened values were dropped (``generation``)
        self._on_drop: list[Callable[[int], None]] = []
        self._lock = threading.Lock()
        self._erased_here: list[tuple[str, str]] = []  # in memory: (key id, erased at)
        self._failures = threading.local()  # each thread's last failed seal (take_failure)
        self._read_first: set[str] = set()
        """Contacts whose new key a save's write refused: their key is read, not guessed."""
        self.unwritten = UnwrittenKeys(self._written, self._refused)
        """New contacts' keys, written with the first save sealed under them (the ledger's
        recorders ask for them: ``HashedSQLiteRecorder``, ``ConcurrentPostgresRecorder``)."""
        if self.datastore is None:  # in memory: keys in memory
            self._memory: dict[str, tuple[str, bytes]] | None = {}
            return
        self._memory = None
        self._with_events = False
        if isinstance(recorder, HashedSQLiteRecorder | ConcurrentPostgresRecorder):
            recorder.unwritten_keys = self.unwritten  # it writes the keys with the events
            self._with_events = True
        with schema_lock(env), self._cursor(commit=True) as cursor:
            for statement in TABLES:
                cursor.execute(statement.format(blob="bytea" if self.is_postgres else "BLOB"))
            if self.is_postgres:  # the check of the keys written with a save's events
                cursor.execute(KEYS_WRITTEN_DDL)

    # -- the database ----------------------------------------------------------------------

    @contextmanager
    def _cursor(self, commit: bool = False) -> Iterator[Any]:
        with self.datastore.transaction(commit=commit) as cursor:
            yield cursor.sqlite_cursor if isinstance(cursor, SQLiteCursor) else cursor

    def _sql(self, statement: str) -> str:
        return placeholders(statement, self.is_postgres)

    def _key_for(self, email: str) -> tuple[str, bytes]:
        """The contact's key id and key, made the first time the contact is written."""
        lookup = lookup_of(email)
        if self._memory is not None:
            with self._lock:
                if lookup not in self._memory:
                    self._memory[lookup] = (uuid4().hex, AESGCM.generate_key(bit_length=256))
                return self._memory[lookup]
        self._forget_stale()
        if (cached := self._by_lookup.get(lookup)) is not None:
            return cached
        if not self._with_events:  # a recorder that writes no keys: a transaction of its own
            row = self._stored_key(lookup)
        elif (unwritten := self.unwritten.taken(lookup)) is not None:
            return unwritten
        elif lookup not in self._read_first:  # not seen here: most likely a new contact
            return self._new_unwritten(lookup)
        else:
            row = self._read_key(lookup)
        self._refuse_if_erased_meanwhile(int(row["erasures"]))
        if row["key_id"] is None:  # a new contact: written with its first save's events
            return self._new_unwritten(lookup)
        found = str(row["key_id"]), bytes(row["secret"])
        self._by_lookup[lookup] = found
        self._keys[found[0]] = found[1]
        self._read_first.discard(lookup)
        return found

    def _new_unwritten(self, lookup: str) -> tuple[str, bytes]:
        """A new key for the contact, written with the first save sealed under it; that
        save's write checks that the store has no other key for the contact and that no
        erasure came since this process last looked (``UnwrittenKeys``)."""
        _, _, secret, created = self._new_key_row(lookup)
        return self.unwritten.made(lookup, secret, created, self._erasures[1])

    def _refused(self, keys: Iterable[UnwrittenKey]) -> None:
        """A save's new keys were refused (the store has another key for one of the
        contacts, or an erasure came): those contacts' keys are read before they are made."""
        if len(self._read_first) > OPENED_CACHE:
            self._read_first.clear()
        self._read_first.update(key.lookup for key in keys)

    def _refuse_if_erased_meanwhile(self, erasures: int) -> None:
        """A contact written now with a key this process did not know: if an erasure came
        since this process last looked (``ERASURES_TTL_SECONDS``), the command's names and
        addresses may be ones it erased, opened before it. Every copy is dropped and the
        save is lost as a race is: the command runs again on fresh reads (and an erased
        contact reads ``[erased]``, which R13 refuses), never writing it back."""
        if erasures != self._erasures[1]:
            self._erasures = (0.0, self._erasures[1])  # look again now
            self._forget_stale()
            raise StaleReadError("an erasure came meanwhile: the command runs again")

    def _new_key_row(self, lookup: str) -> tuple[str, str, bytes, str]:
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return uuid4().hex, lookup, AESGCM.generate_key(bit_length=256), created

    def _read_key(self, lookup: str) -> Any:
        """The contact's key row (``SELECT_KEY``), read without the write lock (SQLite) or in
        one round trip on an autocommitting connection (PostgreSQL)."""
        if self.is_postgres:
            with self.datastore.get_connection() as connection, connection.cursor() as cursor:
                cursor.execute(self._sql(SELECT_KEY), (lookup,), prepare=True)
                return cursor.fetchone()
        with self._cursor() as cursor:
            cursor.execute(SELECT_KEY, (lookup,))
            return cursor.fetchone()

    def _written(self, key: UnwrittenKey) -> None:
        """A new key committed with its first save's events: kept as any key read is."""
        self._by_lookup[key.lookup] = key.key_id, key.secret
        self._keys[key.key_id] = key.secret

    def _stored_key(self, lookup: str) -> Any:
        """The contact's key row, made (and committed) first if there is none and no
        erasure came since this process last looked."""
        select = self._sql(SELECT_KEY)
        with self._cursor() as cursor:
            cursor.execute(select, (lookup,))
            row = cursor.fetchone()
        if row["key_id"] is None:
            with self._cursor(commit=True) as cursor:  # the key is durable before its data
                made = (*self._new_key_row(lookup), self._erasures[1])
                cursor.execute(self._sql(INSERT_KEY), made)
                cursor.execute(select, (lookup,))  # ours, or the one another writer made first
                row = cursor.fetchone()
        return row

    def _key(self, key_id: str) -> bytes | None:
        """The key of that id; None once it was erased."""
        self._forget_stale()
        if key_id in self._keys:
            return self._keys[key_id]
        if self._memory is not None:
            found = next((s for k, s in self._memory.values() if k == key_id), None)
        else:
            with self._cursor() as cursor:
                cursor.execute(
                    self._sql("SELECT secret FROM contact_keys WHERE key_id = ?"), (key_id,)
                )
                row = cursor.fetchone()
            found = None if row is None else bytes(row["secret"])
        self._keys[key_id] = found
        return found

    def _forget_stale(self) -> None:
        """Drop the cached keys when another process erased one since we looked."""
        if self._memory is not None:
            return
        looked_at, seen = self._erasures
        if time.monotonic() - looked_at < ERASURES_TTL_SECONDS:
            return
        with self._cursor() as cursor:
            cursor.execute("SELECT COUNT(*) AS n FROM contact_erasures")
            count = int(cursor.fetchone()["n"])
        if count != seen:
            self._keys, self._by_lookup, self._opened = {}, {}, {}
            self._dropped()
        self._erasures = (time.monotonic(), count)

    def on_drop(self, call: Callable[[int], None]) -> None:
        """``call(generation)`` whenever the opened names and addresses are dropped."""
        self._on_drop.append(call)

    def _dropped(self) -> None:
        self._drops += 1
        for call in self._on_drop:
            call(self._drops)

    def generation(self) -> int:
        """Changes whenever the opened names and addresses are dropped (an erasure here, or
        in another process within ``ERASURES_TTL_SECONDS``): copies of them must go too."""
        self._forget_stale()
        return self._drops

    # -- sealing and opening -----------------------------------------------------------------

    def seal(self, email: str, value: str) -> str:
        """``value`` (the contact's name or address) sealed under the contact's key."""
        if value.startswith(MARK) or value == ERASED:
            return value  # already sealed (an event folded in the sealed form), or erased
        try:
            key_id, secret = self._key_for(email)
        except Exception as error:  # pydantic's serializer keeps only its words: kept here
            self._failures.error = error
            raise
        nonce = os.urandom(12)
        data = AESGCM(secret).encrypt(nonce, value.encode(), key_id.encode())
        return f"{MARK}{key_id}:{base64.urlsafe_b64encode(nonce + data).decode().rstrip('=')}"

    def take_failure(self) -> BaseException | None:
        """The error this thread's last seal failed with (a database out of reach), once:
        pydantic raises its own error in its place, without it."""
        error: BaseException | None = getattr(self._failures, "error", None)
        self._failures.error = None
        return error

    def open(self, text: str) -> str:
        """A sealed string's value (``[erased]`` once its key is gone); other text as it is."""
        if not text.startswith(MARK):
            return text
        self._forget_stale()
        if (value := self._opened.get(text)) is not None:
            return value
        key_id, _, sealed = text[len(MARK) :].partition(":")
        secret = self._key(key_id)
        if secret is None:
            return ERASED
        raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
        try:
            value = AESGCM(secret).decrypt(raw[:12], raw[12:], key_id.encode()).decode()
        except InvalidTag:  # not what was sealed under this key: say so rather than guess
            return ERASED
        if len(self._opened) >= OPENED_CACHE:
            self._opened.clear()
        self._opened[text] = value
        return value

    def open_text(self, text: str) -> str:
        """Every sealed string inside ``text`` opened: a column value, or JSON text (where
        the opened value is written as a JSON string's content)."""
        if MARK in text:
            text = _SEALED.sub(lambda m: self.open(m.group(0)), text)
        if JSON_MARK in text:
            text = _JSON_SEALED.sub(
                lambda m: json.dumps(self.open("\x01" + m.group(0)[6:]))[1:-1], text
            )
        return text

    # -- erasure ----------------------------------------------------------------------------

    def key_id_of(self, email: str) -> str | None:
        """The id of the contact's key, if the contact has one."""
        lookup = lookup_of(email)
        if self._memory is not None:
            found = self._memory.get(lookup)
            return None if found is None else found[0]
        with self._cursor() as cursor:
            cursor.execute(self._sql("SELECT key_id FROM contact_keys WHERE lookup = ?"), (lookup,))
            row = cursor.fetchone()
        return None if row is None else str(row["key_id"])

    def await_other_processes(self) -> None:
        """Wait until every other process on this store has dropped its copy of the keys
        erased so far (in memory there are no other processes)."""
        if self._memory is None:
            time.sleep(ERASURES_TTL_SECONDS)

    def erase(self, key_id: str, erased_at: str) -> bool:
        """Delete the key (every string sealed under it reads ``[erased]``); False if it was
        already gone. Other processes drop their copy within ``ERASURES_TTL_SECONDS``."""
        self._keys[key_id] = None
        self._by_lookup = {k: v for k, v in self._by_lookup.items() if v[0] != key_id}
        self._opened = {}
        self._dropped()
        self._erasures = (0.0, self._erasures[1])  # count this one at the next look
        if self._memory is not None:
            gone = [k for k, (i, _) in self._memory.items() if i == key_id]
            for lookup in gone:
                del self._memory[lookup]
            if gone:
                self._erased_here.append((key_id, erased_at))
            return bool(gone)
        with self._cursor(commit=True) as cursor:
            cursor.execute(self._sql("DELETE FROM contact_keys WHERE key_id = ?"), (key_id,))
            deleted = int(cursor.rowcount) > 0
            cursor.execute(
                self._sql(
                    "INSERT INTO contact_erasures (key_id, erased_at) VALUES (?, ?) "
                    "ON CONFLICT (key_id) DO NOTHING"
                ),
                (key_id, erased_at),
            )
        return deleted

    def lost(self, key_ids: Iterable[str]) -> set[str]:
        """The ids among ``key_ids`` whose key is neither in the key ring nor erased on
        purpose: lost, as when a backup is restored without its ``contact_keys`` table."""
        wanted = set(key_ids)
        if self._memory is not None:
            kept = {key_id for key_id, _ in self._memory.values()}
            return wanted - kept - {key_id for key_id, _ in self._erased_here}
        with self._cursor() as cursor:
            cursor.execute(
                "SELECT key_id FROM contact_keys UNION SELECT key_id FROM contact_erasures"
            )
            return wanted - {str(row["key_id"]) for row in cursor.fetchall()}

    def erased(self) -> list[str]:
        """The ids of the keys erased so far, the latest first."""
        if self._memory is not None:
            return [key_id for key_id, _ in reversed(self._erased_here)]
        with self._cursor() as cursor:
            cursor.execute("SELECT key_id FROM contact_erasures ORDER BY erased_at DESC, key_id")
            return [str(row["key_id"]) for row in cursor.fetchall()]


@dataclass(frozen=True)
class UnwrittenKey:
    """A new contact's key, not yet written."""

    lookup: str
    key_id: str
    secret: bytes
    created_at: str
    erasures: int
    """The erasures this process knew of when it made the key."""


class UnwrittenKeys:
    """New contacts' keys, each written with the first save whose events are sealed under it
    (SQLite: in its transaction; PostgreSQL: in the statement of its events): no commit of
    its own, and a key is never durable without the data it seals, nor data without its key.

    A save's thread notes the keys its events are sealed under as it seals them (``made``,
    ``taken``); its write takes exactly those (``take``; on SQLite ``write`` inserts them
    before its events). If the store has another key for one of those contacts (another
    process made it, meanwhile or before this one saw the contact), or an erasure came since
    the key was made, the save is lost as a race is (``refused``) and its command runs
    again, sealing under the stored key."""

    def __init__(
        self,
        written: Callable[[UnwrittenKey], None],
        refused: Callable[[list[UnwrittenKey]], None],
    ) -> None:
        self._keys: dict[str, UnwrittenKey] = {}
        self._lock = threading.Lock()
        self._used = threading.local()
        self._on_written = written
        self._on_refused = refused

    def taken(self, lookup: str) -> tuple[str, bytes] | None:
        """The unwritten key of this contact (noted for this thread's save), if there is one."""
        with self._lock:
            key = self._keys.get(lookup)
        return None if key is None else self._use(key)

    def made(self, lookup: str, secret: bytes, created_at: str, erasures: int) -> tuple[str, bytes]:
        """A new key for this contact (or the one another thread made a moment ago)."""
        with self._lock:
            key = self._keys.setdefault(
                lookup, UnwrittenKey(lookup, uuid4().hex, secret, created_at, erasures)
            )
        return self._use(key)

    def _use(self, key: UnwrittenKey) -> tuple[str, bytes]:
        used: dict[str, UnwrittenKey] = getattr(self._used, "keys", {})
        used[key.key_id] = key
        self._used.keys = used
        return key.key_id, key.secret

    def take(self) -> list[UnwrittenKey]:
        """The keys this thread's save is sealed under (once): its transaction writes them
        (PostgreSQL: in the statement of its events, ``ConcurrentPostgresRecorder``)."""
        used: dict[str, UnwrittenKey] = getattr(self._used, "keys", {})
        self._used.keys = {}
        return list(used.values())

    def write(self, cursor: Any) -> list[UnwrittenKey]:
        """SQLite, in a save's transaction, before its events: the keys they are sealed
        under that the store does not hold yet."""
        keys = self.take()
        for key in keys:
            values = (key.key_id, key.lookup, key.secret, key.created_at, key.erasures)
            cursor.execute(INSERT_KEY, values)
            if cursor.rowcount == 1:
                continue  # written now: the contact had no key, and no erasure came
            cursor.execute(SELECT_KEY, (key.lookup,))
            if cursor.fetchone()["key_id"] != key.key_id:  # not one an earlier save wrote
                self.refused([key])
        return keys

    def refused(self, keys: Iterable[UnwrittenKey]) -> NoReturn:
        """The store holds another key for one of these contacts, or an erasure came since
        they were made: they are dropped, and the save is lost as a race is (its command
        runs again, sealing under the stored key or a new one)."""
        keys = list(keys)
        with self._lock:
            for key in keys:
                if self._keys.get(key.lookup) == key:
                    del self._keys[key.lookup]
        self._on_refused(keys)
        raise StaleReadError("a contact's key was made elsewhere, or erased meanwhile")

    def written(self, keys: Iterable[UnwrittenKey]) -> None:
        """The save that wrote ``keys`` committed: they are the store's now."""
        for key in keys:
            with self._lock:
                if self._keys.get(key.lookup) == key:
                    del self._keys[key.lookup]
            self._on_written(key)
