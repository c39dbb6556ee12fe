"""A captioning session's log: final lines only, in the order said, as .txt and .vtt timed from
the session's start; a member who opts out takes their lines with them."""

from __future__ import annotations

from bot.calls.caption_line import CaptionLine
from bot.calls.caption_log import CaptionLog


def line(key: int, member_id: int, name: str, text: str, started: float, **kwargs) -> CaptionLine:
    values = {"final": True, "ended": started + 2.0} | kwargs
    return CaptionLine(key, member_id, name, text, started=started, **values)


def test_final_lines_are_written_in_the_order_said_timed_from_the_start():
    log = CaptionLog(started=1000.0)
    log.add(line(2, 8, "Sam", "Fine, thanks.", 1065.0))
    log.add(line(1, 7, "Alex", "How are you?", 1003.5))
    log.add(line(3, 7, "Alex", "still talking", 1070.0, final=False))
    log.add(line(4, 7, "Alex", "could not caption", 1071.0, failed=True))
    log.add(line(5, 7, "Alex", "  ", 1072.0))

    files = log.files()
    assert files.text == "[0:04] Alex: How are you?\n[1:05] Sam: Fine, thanks."
    assert files.vtt == (
        "WEBVTT\n\n"
        "00:00:03.500 --> 00:00:05.500\nAlex: How are you?\n\n"
        "00:01:05.000 --> 00:01:07.000\nSam: Fine, thanks.\n"
    )
    assert len(log) == 2


def test_names_and_words_cannot_break_the_vtt():
    log = CaptionLog(started=0.0)
    log.add(line(1, 7, "A<b>lex\n-->", "x --> y & z", 1.0))
    vtt = log.files().vtt
    assert "A&lt;b&gt;lex --&gt;: x --&gt; y &amp; z" in vtt
    assert vtt.count("-->") == 1


def test_a_member_who_opts_out_takes_their_lines_with_them():
    log = CaptionLog(started=0.0)
    log.add(line(1, 7, "Alex", "Hello.", 1.0))
    log.add(line(2, 8, "Sam", "Hi.", 2.0))
    log.drop_member(7)
    assert log.files().text == "[0:02] Sam: Hi."


def test_an_empty_session_writes_empty_documents():
    files = CaptionLog(started=0.0).files()
    assert (files.text, files.vtt) == ("", "WEBVTT\n\n")
