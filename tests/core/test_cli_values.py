"""Values the software makes at random and people type on a command line."""

from sync import enrol


def test_enrolment_tokens_never_read_as_an_option():
    # `thuvien enroll --token -Xy…` is refused by argparse; 1 token in 64 started with "-"
    tokens = [enrol.new_token() for _ in range(5000)]
    assert not [t for t in tokens if t.startswith("-")]
    assert len(set(tokens)) == len(tokens) and all(len(t) == 24 for t in tokens)
