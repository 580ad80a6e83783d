"""Property-based tests (hypothesis, bounded by the "suite" profile in conftest): JIDs, event
conversion, the rules, Markdown formatting and splitting hold up on any input."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from neonize.proto.Neonize_pb2 import JID

from bot import jid, junk
from bot.messages import BotIdentity, IncomingMessage
from bot.rules import classify
from bot.settings import Settings, load_settings
from bot.whatsapp.convert import to_incoming
from helpers.formatting import markdown_to_whatsapp
from helpers.splitting import CUT_NOTE, MIN_LIMIT, split_message
from tests import wa_events as wa

ME = BotIdentity(f"{wa.BOT_PHONE}@s.whatsapp.net", f"{wa.BOT_LID}@lid")
SETTINGS: Settings = load_settings({"OPENAI_API_KEY": "sk-test", "GROUP_MODE": "all"})
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)

digits = st.text("0123456789", min_size=1, max_size=20)
person_servers = st.sampled_from(sorted(jid.PERSON_SERVERS))
valid_person = st.builds(lambda u, s: f"{u}@{s}", digits, person_servers)
# Anything a broken or hostile event could put in a JID's fields.
any_user = st.one_of(digits, st.text(max_size=12), st.just(""))
any_server = st.one_of(st.sampled_from(sorted(jid.KNOWN_SERVERS)), st.text(max_size=12))
any_jid_string = st.one_of(valid_person, st.text(max_size=30), any_server)


def jid_proto(user: str, server: str) -> JID:
    """A JID protobuf with exactly these fields."""
    return JID(
        User=user, RawAgent=0, Device=0, Integrator=0, Server=server, IsEmpty=not (user or server)
    )


@given(digits, person_servers, st.integers(0, 99))
def test_well_formed_jids_pass_and_round_trip(user: str, server: str, device: int) -> None:
    """A person's JID with any device is well-formed, prints back as parsed, and bares."""
    text = f"{user}:{device}@{server}" if device else f"{user}@{server}"
    assert jid.problem(text) is None
    assert str(jid.parse(text)) == text
    assert jid.bare(text) == f"{user}@{server}"


@given(st.text(max_size=40))
def test_problem_never_raises_and_a_pass_means_parseable(text: str) -> None:
    """Any string gets a verdict; one without a problem parses to a user on a known server."""
    if jid.problem(text) is None:
        parsed = jid.parse(text)
        assert parsed.user and parsed.server in jid.KNOWN_SERVERS
        assert text.isascii() and text.isprintable()


@given(any_user, any_server, any_user, any_server, st.booleans(), st.text(max_size=50))
def test_any_event_converts_and_junk_ids_are_never_answered(
    chat_user: str, chat_server: str, user: str, server: str, group: bool, text: str
) -> None:
    """Conversion never raises; a message it yields is answered only if every id is valid."""
    ev = wa.private_text(text) if not group else wa.group_text(text, mentions=[wa.BOT_PHONE])
    source = ev.Info.MessageSource
    source.Chat.CopyFrom(jid_proto(chat_user, chat_server))
    source.Sender.CopyFrom(jid_proto(user, server))
    msg = to_incoming(ev)
    verdict = classify(msg, me=ME, settings=SETTINGS, not_before=LONG_AGO)
    if junk.malformed(msg) is not None:
        assert not verdict.answer and verdict.reason in junk.QUARANTINED
    elif verdict.answer:
        assert jid.problem(msg.sender_jid, jid.PERSON_SERVERS) is None
        assert jid.problem(msg.chat_jid) is None


@given(any_jid_string, any_jid_string, st.one_of(st.none(), any_jid_string), st.booleans())
def test_the_rules_never_answer_a_malformed_id(
    chat: str, sender: str, alt: str | None, group: bool
) -> None:
    """Whatever the ids, a message with a malformed one is ignored as quarantined junk."""
    msg = IncomingMessage(
        id="ID1",
        chat_jid=chat,
        sender_jid=sender,
        text="hello",
        timestamp=datetime.now(UTC),
        sender_alt_jid=alt,
        is_group=group,
    )
    verdict = classify(msg, me=ME, settings=SETTINGS, not_before=LONG_AGO)
    assert verdict.answer == (junk.malformed(msg) is None and (not group or jid.is_group(chat)))


@given(digits, st.text(min_size=1, max_size=200).filter(str.strip))
def test_a_real_private_text_is_answered_with_its_text(user: str, text: str) -> None:
    """A well-formed private text from any phone number is answered, its text kept."""
    msg = to_incoming(wa.private_text(text, sender=user))
    assert junk.malformed(msg) is None
    assert msg.text == text
    assert classify(msg, me=ME, settings=SETTINGS, not_before=LONG_AGO).answer


@given(st.text(max_size=300))
def test_formatting_never_raises(md: str) -> None:
    """Any Markdown renders to a string without raising."""
    assert isinstance(markdown_to_whatsapp(md), str)


@given(st.lists(st.from_regex(r"[A-Za-z]{1,10}", fullmatch=True), max_size=30))
def test_formatting_keeps_plain_words(words: list[str]) -> None:
    """Plain words (no Markdown syntax) come out unchanged, in order."""
    assert markdown_to_whatsapp(" ".join(words)).split() == words


@given(st.text(max_size=600), st.integers(MIN_LIMIT, 120))
def test_split_parts_fit_and_are_non_empty(text: str, limit: int) -> None:
    """Every part is stripped, non-empty and within the limit."""
    for part in split_message(text, limit):
        assert part and part == part.strip() and len(part) <= limit


@given(st.text(st.characters(blacklist_characters="`"), max_size=600), st.integers(MIN_LIMIT, 120))
def test_split_loses_no_visible_character(text: str, limit: int) -> None:
    """Without code fences, the parts hold exactly the text's non-whitespace characters."""
    parts = split_message(text, limit)
    assert "".join("".join(p.split()) for p in parts) == "".join(text.split())


@given(st.text(max_size=800), st.integers(MIN_LIMIT, 80), st.integers(1, 5))
def test_split_respects_max_parts_and_says_when_it_cut(
    text: str, limit: int, max_parts: int
) -> None:
    """At most max_parts parts, each within the limit; the last says so when text was cut."""
    whole = split_message(text, limit)
    capped = split_message(text, limit, max_parts)
    assert len(capped) == min(len(whole), max_parts)
    assert all(len(part) <= limit for part in capped)
    if len(whole) > max_parts:
        assert capped[-1].endswith(CUT_NOTE)
        assert capped[:-1] == whole[: max_parts - 1]
    else:
        assert capped == whole
