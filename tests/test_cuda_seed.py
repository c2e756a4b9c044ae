"""cr.cuda.manual_seed / manual_seed_all: accepted for PyTorch programs, and they leave the random streams alone."""

import doctest

import pytest

import chainrule as cr


@pytest.mark.parametrize("fn", [cr.cuda.manual_seed, cr.cuda.manual_seed_all])
def test_seeding_the_gpu_changes_nothing(fn):
    cr.manual_seed(5)
    expected = cr.rand(4).tolist()
    cr.manual_seed(5)
    assert fn(123) is None
    assert cr.rand(4).tolist() == expected  # GPU draws come from the default generator: nothing else to seed


@pytest.mark.parametrize("fn", [cr.cuda.manual_seed, cr.cuda.manual_seed_all])
def test_a_seed_that_is_not_an_int_is_an_error(fn):
    with pytest.raises(TypeError, match="seed must be an int, got str"):
        fn("3407")


@pytest.mark.parametrize("fn", [cr.cuda.manual_seed, cr.cuda.manual_seed_all])
def test_the_examples_run(fn):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(fn, globs={"cr": cr}):
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
