"""cr.accelerator: PyTorch's torch.accelerator questions (pytorch/examples' main() asks them), for CUDA via CuPy."""

import doctest

import pytest

import chainrule as cr


def test_answers_agree_with_cuda():
    assert cr.accelerator.is_available() == cr.cuda.is_available()
    assert cr.accelerator.device_count() == cr.cuda.device_count()
    expected = cr.device("cuda") if cr.cuda.is_available() else None
    assert cr.accelerator.current_accelerator() == expected
    assert cr.accelerator.current_accelerator(check_available=True) == expected


def test_the_pytorch_examples_idiom():
    use_accel = cr.accelerator.is_available()
    device = cr.accelerator.current_accelerator() if use_accel else cr.device("cpu")
    assert cr.zeros(2, device=device).device.type == device.type


@pytest.mark.parametrize("name", cr.accelerator.__all__)
def test_the_examples_run(name):
    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(getattr(cr.accelerator, name), globs={"cr": cr}):
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
