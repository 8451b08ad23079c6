"""The parallel run keeps a test file on one worker (conftest.py), so a file's module
fixtures are built once: a pytest that xdist's groups do not understand runs each test
apart, silently, and the suite takes minutes more."""


def test_a_test_file_is_one_group_of_the_parallel_run(request):
    group = request.node.get_closest_marker("xdist_group")
    assert group is not None and group.args[0] == "tests/test_suite_groups.py"
    if request.config.getoption("loadgroup", default=False):  # an xdist worker
        # xdist hands the group to its scheduler at the end of the test's id
        assert request.node.nodeid.endswith("@tests/test_suite_groups.py")
