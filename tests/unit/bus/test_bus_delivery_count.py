"""The delivery count a JetStream consumer reads from each message's ack subject."""

from __future__ import annotations

from nats.aio.msg import Msg

from shared.bus.nats_consumer import delivery_count


def _message(reply: str) -> Msg:
    return Msg(_client=None, subject="painreview.referral.accepted.v1", reply=reply, data=b"{}")  # type: ignore[arg-type]


def test_a_v1_ack_subject_gives_the_delivery_count_the_library_would() -> None:
    msg = _message("$JS.ACK.PAINREVIEW.careplan--referral_accepted_v1.3.120.7.1764160000000000000.42")
    assert delivery_count(msg) == 3 == _message(msg.reply).metadata.num_delivered


def test_a_v2_ack_subject_with_a_domain_is_left_to_the_library() -> None:
    reply = "$JS.ACK.hub.ACCHASH.PAINREVIEW.careplan--referral_accepted_v1.2.120.7.1764160000000000000.42.x"
    assert delivery_count(_message(reply)) == 2
