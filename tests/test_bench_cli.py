"""`python -m bench`: names run benchmarks, options go to the one named, and a word that
is neither is refused before anything runs (an option read as a name once cost a run)."""

import pytest

from bench.__main__ import main


def test_options_go_to_the_benchmark_named(capsys):
    with pytest.raises(SystemExit) as ended:  # its own argparse answered --help
        main(["core_ab", "--help"])
    assert ended.value.code == 0
    assert "--base" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["nope"], ["core", "nope"], ["core", "sip2", "--cycles", "3"],
                                  ["--cycles", "3"]])
def test_what_is_not_a_benchmark_is_refused_and_nothing_runs(argv, capsys):
    assert main(argv) == 2
    out = capsys.readouterr()
    assert "==" not in out.out  # no benchmark started
    assert out.err.strip()
